"""Domain errors with a stable code and a message in Chinese and English.

Every error the API returns has the shape `{"code", "message", "message_en"}` (plus
`details` where there is more to say, such as every bad row of an import).
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400

    def __init__(
        self,
        code: str,
        message: str,
        message_en: str,
        *,
        details: Any = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message_en)
        self.code = code
        self.message = message
        self.message_en = message_en
        self.details = details
        if status_code is not None:
            self.status_code = status_code

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "message_en": self.message_en,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class ValidationFailed(DomainError):
    status_code = 422


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403
