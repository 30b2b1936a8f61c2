"""Error responses: every error is `{"code", "message", "message_en"}` with a 4xx status."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from minyi.core.errors import DomainError

_HTTP_MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "请求有误", "Bad request"),
    401: ("unauthorized", "请先登录", "Authentication required"),
    403: ("forbidden", "没有权限", "Not allowed"),
    404: ("not_found", "找不到该资源", "Not found"),
    405: ("method_not_allowed", "不支持该请求方法", "Method not allowed"),
    409: ("conflict", "与当前状态冲突", "Conflict"),
    413: ("too_large", "内容过大", "Payload too large"),
    415: ("unsupported_media_type", "不支持的内容类型", "Unsupported media type"),
    422: ("validation_error", "提交的内容有误", "Invalid input"),
    429: ("too_many_requests", "请求过于频繁", "Too many requests"),
}


def error_body(code: str, message: str, message_en: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "message_en": message_en}
    if details is not None:
        body["details"] = details
    return body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "reason": err.get("msg", ""),
            }
            for err in exc.errors()
        ]
        return JSONResponse(
            error_body("validation_error", "提交的内容有误", "Invalid input", details),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, zh, en = _HTTP_MESSAGES.get(exc.status_code, ("http_error", "请求失败", "Error"))
        if isinstance(exc.detail, dict) and "code" in exc.detail:
            return JSONResponse(exc.detail, status_code=exc.status_code)
        return JSONResponse(
            error_body(code, zh, en), status_code=exc.status_code, headers=exc.headers
        )
