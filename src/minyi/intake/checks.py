"""Every check of an appeal before anything is stored, all problems collected at once.

`prepare_appeal` turns what a channel sent into a `PreparedAppeal` (normalised phone,
ID number and credit code, a known area, inspected files, the dedupe hash) or raises one
`ValidationFailed` naming each problem with a stable code in Chinese and English. Values
the citizen typed are never echoed back in `details`: error bodies end up in logs.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from minyi.core.errors import ValidationFailed
from minyi.intake import domain, media
from minyi.intake.domain import Channel, RequesterKind
from minyi.intake.schemas import AppealCreate, RequesterIn
from minyi.org import service as org
from minyi.org.domain import Role
from minyi.tickets.access import Principal

_KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,200}")


@dataclass(frozen=True)
class RequesterValues:
    """The requester, normalised (bare-digit phone, upper-case ID and credit code)."""

    kind: RequesterKind
    name: str | None = None
    phone: str | None = None
    id_number: str | None = None
    company_name: str | None = None
    credit_code: str | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class CheckedFile:
    name: str
    data: bytes
    sha256: str
    kind: media.FileKind
    mime: str


@dataclass(frozen=True)
class PreparedAppeal:
    """An appeal after every check: what is stored, in the form it is stored."""

    channel: Channel
    appeal_type: str
    title: str
    text: str
    address_text: str | None
    lon: float | None
    lat: float | None
    area_id: int | None
    anonymous: bool
    requester: RequesterValues | None
    source_client_id: int | None
    dedupe_hash: str
    files: tuple[CheckedFile, ...]


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, field: str, code: str, reason: str, reason_en: str, **extra: Any) -> None:
        self.items.append(
            {"field": field, "code": code, "reason": reason, "reason_en": reason_en, **extra}
        )


def prepare_appeal(
    session: Session,
    data: AppealCreate,
    files: Sequence[media.IncomingFile],
    principal: Principal,
    idempotency_key: str | None,
    now: datetime,
) -> PreparedAppeal:
    """The appeal as it will be stored, or `ValidationFailed` with every problem."""
    problems = _Problems()
    if idempotency_key is not None and not _KEY_SHAPE.fullmatch(idempotency_key):
        problems.add(
            "Idempotency-Key",
            "idempotency_key_invalid",
            "Idempotency-Key 须为 1–200 个可见 ASCII 字符",
            "Idempotency-Key must be 1 to 200 visible ASCII characters",
        )
    text = data.text.strip()
    if not text:
        problems.add("text", "text_required", "诉求内容不能为空", "The text is required")
    for field, value in (("text", text), ("title", data.title or "")):
        if domain.has_active_markup(value):
            problems.add(
                field,
                "text_markup",
                "内容中不能包含网页代码（如 <script> 标签），请只填写文字",
                "Scripts and other active web code are not accepted: plain text only",
            )
    title = (data.title or "").strip() or domain.default_title(text)
    _check_coordinates(data.lon, data.lat, problems)
    area_id = _area(session, data, principal, problems)
    requester = _requester(data, principal, problems, now)
    checked = _files(files, problems)
    if problems.items:
        n = len(problems.items)
        raise ValidationFailed(
            "appeal_invalid",
            f"诉求有 {n} 处问题，未受理，请修改后重新提交",
            f"The appeal has {n} problem(s); nothing was stored",
            details=problems.items,
        )
    client_id = principal.client.id if principal.client is not None else None
    who = domain.requester_key(
        phone=requester.phone if requester else None,
        credit_code=requester.credit_code if requester else None,
        user_id=requester.user_id if requester else None,
        client_id=client_id,
    )
    return PreparedAppeal(
        channel=data.channel,
        appeal_type=data.appeal_type.value,
        title=title,
        text=text,
        address_text=data.address_text or None,
        lon=data.lon,
        lat=data.lat,
        area_id=area_id,
        anonymous=data.anonymous,
        requester=requester,
        source_client_id=client_id,
        dedupe_hash=domain.dedupe_hash(data.channel.value, who, text),
        files=checked,
    )


def _check_coordinates(lon: float | None, lat: float | None, problems: _Problems) -> None:
    if (lon is None) != (lat is None):
        problems.add(
            "lon" if lon is None else "lat",
            "coordinates_incomplete",
            "经度和纬度须同时提供",
            "Give both longitude and latitude, or neither",
        )
        return
    if lon is None or lat is None:
        return
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        problems.add("lon", "lon_invalid", "经度须在 -180 到 180 之间", "lon must be in -180..180")
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        problems.add("lat", "lat_invalid", "纬度须在 -90 到 90 之间", "lat must be in -90..90")


def _area(
    session: Session, data: AppealCreate, principal: Principal, problems: _Problems
) -> int | None:
    by_id = org.get_area(session, data.area_id) if data.area_id is not None else None
    if data.area_id is not None and by_id is None:
        problems.add("area_id", "area_not_found", "找不到该区域", "No such area")
    by_code = org.get_area_by_code(session, data.area_code) if data.area_code else None
    if data.area_code and by_code is None:
        problems.add("area_code", "area_not_found", "找不到该区域编码", "No area with that code")
    if by_id is not None and by_code is not None and by_id.id != by_code.id:
        problems.add(
            "area_code",
            "area_mismatch",
            "区域编号与区域编码指向不同区域",
            "area_id and area_code name different areas",
        )
    area = by_id or by_code
    if area is not None:
        return area.id
    # A district's own case system files the district's appeals.
    client = principal.client
    return client.area_id if client is not None else None


def _requester(
    data: AppealCreate, principal: Principal, problems: _Problems, now: datetime
) -> RequesterValues | None:
    user = principal.user
    citizen = user if user is not None and user.role == Role.CITIZEN.value else None
    user_id = citizen.id if citizen is not None else None
    # Historical imports and anonymous appeals may come without anyone to call back.
    needs_contact = not data.anonymous and data.channel is not Channel.IMPORT and citizen is None
    given = data.requester
    if given is None:
        if citizen is not None:
            phone = domain.normalise_phone(citizen.phone) if citizen.phone else None
            return RequesterValues(
                RequesterKind.PERSON, name=citizen.display_name, phone=phone, user_id=user_id
            )
        if needs_contact:
            problems.add(
                "requester",
                "requester_required",
                "请填写诉求人及联系电话，或选择匿名",
                "Give the requester and a phone number, or submit anonymously",
            )
        return None
    phone = _phone(given, problems, required=needs_contact)
    if phone is None and citizen is not None and citizen.phone:
        phone = domain.normalise_phone(citizen.phone)
    if given.kind is RequesterKind.COMPANY:
        return _company(given, phone, user_id, problems)
    for field in ("company_name", "credit_code"):
        if getattr(given, field):
            problems.add(
                f"requester.{field}",
                "company_field_for_person",
                "个人诉求人不填写企业名称或统一社会信用代码",
                f"{field} is only for a company requester",
            )
    id_number = None
    if given.id_number:
        id_number = domain.normalise_id_number(given.id_number)
        if not domain.is_valid_id_number(id_number, today=now.date()):
            problems.add(
                "requester.id_number",
                "id_number_invalid",
                "身份证号码有误（须为 18 位，校验位不符或出生日期无效）",
                "The ID number is invalid (18 characters, check character, birth date)",
            )
    return RequesterValues(
        RequesterKind.PERSON,
        name=given.name or None,
        phone=phone,
        id_number=id_number,
        user_id=user_id,
    )


def _company(
    given: RequesterIn, phone: str | None, user_id: int | None, problems: _Problems
) -> RequesterValues:
    if not given.company_name:
        problems.add(
            "requester.company_name",
            "company_name_required",
            "请填写企业名称",
            "The company name is required",
        )
    code = domain.normalise_credit_code(given.credit_code or "")
    if not code:
        problems.add(
            "requester.credit_code",
            "credit_code_required",
            "请填写统一社会信用代码",
            "The unified social credit code is required",
        )
    elif not domain.is_valid_credit_code(code):
        problems.add(
            "requester.credit_code",
            "credit_code_invalid",
            "统一社会信用代码有误（须为 18 位，校验位不符）",
            "The unified social credit code is invalid (18 characters, check character)",
        )
    if given.id_number:
        problems.add(
            "requester.id_number",
            "id_number_for_company",
            "企业诉求人不填写身份证号码",
            "An ID number is only for a person requester",
        )
    return RequesterValues(
        RequesterKind.COMPANY,
        name=given.name or None,
        phone=phone,
        company_name=given.company_name or None,
        credit_code=code or None,
        user_id=user_id,
    )


def _phone(given: RequesterIn, problems: _Problems, *, required: bool) -> str | None:
    if not given.phone:
        if required:
            problems.add(
                "requester.phone",
                "phone_required",
                "请填写联系电话，或选择匿名",
                "A phone number is required unless the appeal is anonymous",
            )
        return None
    phone = domain.normalise_phone(given.phone)
    if phone is None:
        # The number itself is not echoed: error bodies end up in logs.
        problems.add(
            "requester.phone",
            "phone_invalid",
            "联系电话格式有误（手机号或带区号的固定电话）",
            "The phone number is invalid (a mobile or a landline with area code)",
        )
    return phone


def _files(files: Sequence[media.IncomingFile], problems: _Problems) -> tuple[CheckedFile, ...]:
    if len(files) > media.MAX_FILES_PER_APPEAL:
        problems.add(
            "files",
            "too_many_files",
            f"附件最多 {media.MAX_FILES_PER_APPEAL} 个",
            f"At most {media.MAX_FILES_PER_APPEAL} files per appeal",
        )
    total = sum(len(f.data) for f in files)
    if total > media.MAX_TOTAL_BYTES:
        problems.add(
            "files",
            "files_too_large",
            f"附件合计不能超过 {media.MAX_TOTAL_BYTES // media.MIB} MB",
            f"All files together may be at most {media.MAX_TOTAL_BYTES // media.MIB} MB",
        )
    checked: list[CheckedFile] = []
    for i, incoming in enumerate(files):
        name = media.safe_name(incoming.filename)
        try:
            sniffed = media.inspect(incoming.data)
        except media.FileRejected as rejected:
            problems.add(
                f"files[{i}]", rejected.code, rejected.reason, rejected.reason_en, file=name
            )
            continue
        checked.append(
            CheckedFile(name, incoming.data, _sha256(incoming.data), sniffed.kind, sniffed.mime)
        )
    return tuple(checked)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
