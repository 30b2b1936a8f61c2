"""The intake form's fields, turned into the API's `AppealCreate`, and the problems the
service names, put back beside the fields they concern."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from minyi.core.errors import DomainError
from minyi.intake.domain import Channel, RequesterKind
from minyi.intake.schemas import AppealCreate

# The service's field names (and the API's) → the form's.
FIELD_OF = {
    "text": "text",
    "type": "appeal_type",
    "appeal_type": "appeal_type",
    "address_text": "address",
    "requester": "phone",
    "requester.phone": "phone",
    "requester.name": "name",
    "requester.company_name": "company_name",
    "requester.credit_code": "credit_code",
    "requester.kind": "requester_kind",
}
_SHAPE_ZH = {
    "text": "诉求内容不能为空",
    "type": "请选择诉求类型",
    "address_text": "问题地址不能超过 500 字",
    "requester.name": "姓名不能超过 100 字",
    "requester.phone": "来电号码格式有误",
    "requester.company_name": "企业名称不能超过 200 字",
    "requester.credit_code": "统一社会信用代码格式有误",
    "requester.kind": "请选择诉求人类型",
}

Problems = dict[str, list[str]]


class IntakeForm(BaseModel):
    """What the agent typed, kept as typed so that a refused form comes back filled in."""

    model_config = ConfigDict(str_strip_whitespace=True)

    phone: str = ""
    text: str = ""
    address: str = ""
    appeal_type: str = "complaint"
    requester_kind: str = RequesterKind.PERSON.value
    company_name: str = ""
    credit_code: str = ""
    name: str = ""
    anonymous: bool = False
    # One key per form shown: pressing 受理 twice (or a retry) opens one ticket.
    idempotency_key: str = Field(default_factory=lambda: uuid.uuid4().hex, max_length=200)

    @property
    def is_company(self) -> bool:
        return self.requester_kind == RequesterKind.COMPANY.value

    def appeal(self, channel: Channel) -> AppealCreate:
        """The API's shape of this call, or `ValidationError` for what the shape refuses
        (unknown type, text over 10,000 characters). An empty text is passed on for the
        service to name together with every other problem (a bad number, a bad credit
        code), so that the agent hears of them all at once."""
        raw: dict[str, Any] = {
            "channel": channel.value,
            "type": self.appeal_type,
            "text": self.text,
            "address_text": self.address or None,
            "anonymous": self.anonymous,
            "requester": {
                "kind": self.requester_kind,
                "name": self.name or None,
                "phone": self.phone or None,
                # Fields of a company the agent typed and then switched back from.
                "company_name": (self.company_name or None) if self.is_company else None,
                "credit_code": (self.credit_code or None) if self.is_company else None,
            },
        }
        if self.text.strip():
            return AppealCreate.model_validate(raw)
        return AppealCreate.model_validate({**raw, "text": "-"}).model_copy(update={"text": ""})


def shape_problems(exc: ValidationError) -> Problems:
    found: Problems = {}
    for err in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in err.get("loc", ()))
        message = _SHAPE_ZH.get(path, "格式或取值不正确")
        if path == "text" and err.get("type") == "string_too_long":
            message = "诉求内容过长：不能超过 10000 字，请概括要点"
        found.setdefault(FIELD_OF.get(path, "form"), []).append(message)
    return found


def service_problems(exc: DomainError) -> Problems:
    """Each problem the service listed in `details`, under the form field it concerns."""
    found: Problems = {}
    for d in exc.details if isinstance(exc.details, list) else []:
        if isinstance(d, dict):
            field = FIELD_OF.get(str(d.get("field", "")), "form")
            found.setdefault(field, []).append(str(d.get("reason") or exc.message))
    if not found:
        found["form"] = [exc.message]
    return found


def count(problems: Problems) -> int:
    return sum(len(v) for v in problems.values())
