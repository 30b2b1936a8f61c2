"""The portal's forms: read under a size cap, checked for shape, errors tied to fields.

The appeal form posts like any HTML form (multipart with files, or urlencoded without);
htmx only adds the live boxes. What a field may hold beyond its shape (a phone one can call
back, a file that really is a photo) is intake's to decide (`intake.checks`): its problems
come back as `ValidationFailed` details and are put beside the fields they are about.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from minyi.intake import media
from minyi.intake.domain import AppealType, Channel
from minyi.intake.routes import MAX_REQUEST_BYTES
from minyi.intake.schemas import AppealCreate, RequesterIn

MAX_TEXT = 10_000  # AppealCreate.text
MAX_FIELD_BYTES = 1 * media.MIB  # any one typed field; far above 10,000 characters
MAX_PLAIN_FORM_BYTES = 2 * media.MIB  # a form without files


class FormTooLarge(Exception):
    """The body broke a cap before it was read whole: nothing of it is kept."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class RawForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[media.IncomingFile] = field(default_factory=list)
    # Why nothing was read (the body broke a cap), in plain words; None when all is here.
    too_large: str | None = None

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


def _too_large() -> FormTooLarge:
    limit = MAX_REQUEST_BYTES // media.MIB
    return FormTooLarge(
        f"提交的内容太大了：文字请控制在 {MAX_TEXT} 字以内，附件合计不超过 "
        f"{media.MAX_TOTAL_BYTES // media.MIB} MB（整个提交不超过 {limit} MB）。"
    )


async def _capped(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    # Content-Length can be absent or lie: count what actually arrives.
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise _too_large()
        yield chunk


async def read_form(request: Request) -> RawForm:
    """Every field (the last value of each name) and every uploaded file, or `FormTooLarge`.
    A file input left empty sends a nameless, empty part: it is not a file."""
    declared = request.headers.get("content-length", "")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
            raise _too_large()
        parser = MultiPartParser(
            request.headers,
            _capped(request, MAX_REQUEST_BYTES),
            max_files=50,
            max_fields=50,
            max_part_size=MAX_FIELD_BYTES,
        )
        try:
            form = await parser.parse()
        except MultiPartException:
            # The usual cause is one typed field over the part limit (megabytes of text).
            raise _too_large() from None
        raw = RawForm()
        try:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    data = await value.read()
                    if value.filename or data:
                        raw.files.append(
                            media.IncomingFile(value.filename or "", data, value.content_type)
                        )
                else:
                    raw.fields[name] = value
        finally:
            await form.close()
        return raw
    if declared.isdigit() and int(declared) > MAX_PLAIN_FORM_BYTES:
        raise _too_large()
    body = b"".join([chunk async for chunk in _capped(request, MAX_PLAIN_FORM_BYTES)])
    text = body.decode("utf-8", errors="replace")
    return RawForm(fields=dict(parse_qsl(text, keep_blank_values=True)))


async def form_body(request: Request) -> RawForm:
    """The posted form, as a dependency. Reading is the only asynchronous part: the pages
    themselves are synchronous, so FastAPI runs them in its threads. A page that waited on
    the database inside the event loop would stall every other request, including the one
    whose commit it waits for (SQLite takes its write lock at BEGIN)."""
    try:
        return await read_form(request)
    except FormTooLarge as exc:
        return RawForm(too_large=exc.message)


FormDep = Annotated[RawForm, Depends(form_body)]


# --- the appeal ---------------------------------------------------------------------------

_FORM_KEY = re.compile(r"[A-Za-z0-9_\-]{8,64}")
TYPE_CHOICES = [(t.value, t.label_zh) for t in AppealType]

# Where intake's problem fields are shown on the form.
_FIELD_OF = {
    "text": "text",
    "type": "type",
    "appeal_type": "type",
    "address_text": "address_text",
    "requester": "phone",
    "requester.phone": "phone",
    "requester.name": "name",
    "files": "files",
}


@dataclass
class AppealForm:
    appeal_type: str = AppealType.COMPLAINT.value
    text: str = ""
    address_text: str = ""
    phone: str = ""
    name: str = ""
    anonymous: bool = False
    # Kept across a re-rendered form: a double click or a retry opens one ticket only.
    form_key: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    files: list[media.IncomingFile] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_raw(cls, raw: RawForm) -> AppealForm:
        key = raw.get("form_key").strip()
        key = key if _FORM_KEY.fullmatch(key) else secrets.token_urlsafe(18)
        return cls(
            appeal_type=raw.get("type").strip(),
            text=raw.get("text"),
            address_text=raw.get("address_text").strip(),
            phone=raw.get("phone").strip(),
            name=raw.get("name").strip(),
            anonymous=raw.get("anonymous") in ("1", "on", "true"),
            form_key=key,
            files=raw.files,
        )

    def add(self, name: str, message: str) -> None:
        messages = self.errors.setdefault(name, [])
        if message not in messages:
            messages.append(message)

    def check(self) -> AppealCreate | None:
        """The appeal for intake, or None with the shape problems in `errors`."""
        if self.appeal_type not in {t.value for t in AppealType}:
            self.add("type", "请选择诉求类型。")
        text = self.text.strip()
        if not text:
            self.add("text", "请填写诉求内容：发生了什么事、在哪里、希望怎么解决。")
        elif len(text) > MAX_TEXT:
            self.add("text", f"诉求内容最多 {MAX_TEXT} 字，现在有 {len(text)} 字，请删减后再提交。")
        if len(self.address_text) > 500:
            self.add("address_text", "问题地址最多 500 字。")
        if len(self.name) > 100:
            self.add("name", "姓名最多 100 字。")
        if len(self.phone) > 32:
            self.add("phone", "手机号码格式不对，请填写 11 位手机号或带区号的固定电话。")
        if self.errors:
            return None
        requester = (
            RequesterIn(name=self.name or None, phone=self.phone or None)
            if self.phone or self.name
            else None
        )
        return AppealCreate(
            channel=Channel.WEB,
            appeal_type=AppealType(self.appeal_type),
            text=text,
            address_text=self.address_text or None,
            requester=requester,
            anonymous=self.anonymous,
        )

    def take_problems(self, details: Any) -> None:
        """Put intake's problems beside their fields (plain words for the common ones)."""
        for problem in details if isinstance(details, list) else []:
            if not isinstance(problem, Mapping):
                continue
            where = str(problem.get("field", ""))
            name = _FIELD_OF.get(where, "files" if where.startswith("files") else "text")
            self.add(name, _plain(problem))

    @property
    def error_count(self) -> int:
        return sum(len(v) for v in self.errors.values())


def _plain(problem: Mapping[str, Any]) -> str:
    code = problem.get("code")
    if code == "phone_invalid":
        return "手机号码格式不对，请填写 11 位手机号，或带区号的固定电话。"
    if code in ("phone_required", "requester_required"):
        return "请填写手机号码，方便承办单位联系您；不想留电话请勾选“匿名反映”。"
    reason = str(problem.get("reason", "内容有误"))
    name = problem.get("file")
    return f"附件“{name}”：{reason}。" if name else f"{reason}。"


# --- the rating ---------------------------------------------------------------------------

RATING_DIMENSIONS = (
    ("speed", "办理速度"),
    ("result", "办理结果"),
    ("attitude", "服务态度"),
    ("quality", "答复质量"),
)
RATING_WORDS = ((1, "很不满意"), (2, "不满意"), (3, "一般"), (4, "满意"), (5, "很满意"))
MAX_COMMENT = 1000  # RateRequest.comment


@dataclass
class RatingForm:
    scores: dict[str, int | None] = field(default_factory=dict)
    comment: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_raw(cls, raw: RawForm) -> RatingForm:
        scores: dict[str, int | None] = {}
        for key, _ in RATING_DIMENSIONS:
            value = raw.get(key).strip()
            scores[key] = int(value) if value in {"1", "2", "3", "4", "5"} else None
        return cls(scores=scores, comment=raw.get("comment").strip())

    def check(self) -> dict[str, Any] | None:
        """The RateRequest body, or None with the problems in `errors`."""
        for key, label in RATING_DIMENSIONS:
            if self.scores.get(key) is None:
                self.errors.setdefault(key, []).append(f"请为“{label}”选一个分数（1 到 5 分）。")
        if len(self.comment) > MAX_COMMENT:
            self.errors.setdefault("comment", []).append(
                f"评价意见最多 {MAX_COMMENT} 字，现在有 {len(self.comment)} 字。"
            )
        if self.errors:
            return None
        return {**self.scores, "comment": self.comment or None}
