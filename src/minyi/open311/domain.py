"""Open311 GeoReport v2 as pure rules: formats, errors, service codes, the attributes of a
service definition, and the checks of what a client sends (a new request's form, the
filters of a request list).

The spec (`shared/data/open311/GeoReport_v2_spec.md`) says: XML is required and JSON
optional, the format is the resource's suffix; errors are a list of `{code, description}`
with HTTP 404 for what does not exist, 403 for a missing or wrong `api_key` and 400 for
anything else; dates are W3C date-times with a time zone; a description is at most 4,000
characters; a request list covers 90 days and 1,000 requests at most.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from urllib.parse import urlsplit

from minyi.intake.domain import AppealType


class Format(StrEnum):
    XML = "xml"
    JSON = "json"

    @property
    def media_type(self) -> str:
        return (
            "text/xml; charset=utf-8" if self is Format.XML else "application/json; charset=utf-8"
        )


SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint's behaviour last changed (the discovery document's changeset).
CHANGESET = "2026-11-22T00:00:00+08:00"
# Every service is realtime: the ticket is opened in the request that creates it, so the
# service_request_id is always known at once and POST never answers with a token.
SERVICE_TYPE = "realtime"
MAX_DESCRIPTION = 4000
MAX_REQUESTS = 1000
WINDOW = timedelta(days=90)
# Field lengths of the appeal a request becomes (intake's AppealCreate and RequesterIn).
MAX_ADDRESS = 500
MAX_ADDRESS_ID = 64
MAX_NAME = 100
MAX_PHONE = 32
MAX_URL = 2000
MAX_IDS = MAX_REQUESTS


# --- errors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One entry of the error list: a stable code and a description for people."""

    code: str
    zh: str
    en: str

    @property
    def description(self) -> str:
        return f"{self.zh}（{self.en}）"


class Open311Error(Exception):
    """An answer in the spec's error shape: HTTP `status` and every problem found."""

    def __init__(self, status: int, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.en for p in problems))
        self.status = status
        self.problems = tuple(problems)


def bad_request(code: str, zh: str, en: str) -> Open311Error:
    return Open311Error(400, [Problem(code, zh, en)])


def not_found(code: str, zh: str, en: str) -> Open311Error:
    return Open311Error(404, [Problem(code, zh, en)])


def forbidden(code: str, zh: str, en: str) -> Open311Error:
    return Open311Error(403, [Problem(code, zh, en)])


def parse_format(raw: str) -> Format:
    try:
        return Format(raw.lower())
    except ValueError:
        raise bad_request(
            "format_unsupported",
            "不支持的格式，请在地址末尾使用 .xml 或 .json",
            "Unsupported format: end the URL with .xml or .json",
        ) from None


# --- services --------------------------------------------------------------------------------


def service_code(code: str, path: str, *, shared: bool) -> str:
    """The catalogue item's code; for a code the standard prints on more than one node
    (090499 stands under 0904 and under 0905) the full path joined by "-", so that every
    service_code names one item and stays a single URL segment."""
    return path.replace("/", "-") if shared else code


class Datatype(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


@dataclass(frozen=True)
class AttributeValue:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    variable: bool  # False: information shown to the person, no input
    code: str
    datatype: Datatype
    required: bool
    order: int
    description: str
    datatype_description: str | None = None
    values: tuple[AttributeValue, ...] = ()
    default: str | None = None


DEFAULT_APPEAL_TYPE = AppealType.REQUEST  # a "service request" is a 求助 unless told otherwise
EMERGENCY_NOTICE = (
    "12345 不是紧急热线：遇火灾请拨 119，治安警情请拨 110，有人受伤请拨 120，"
    "燃气泄漏请拨燃气抢修热线。"
)

# The same for every service: the appeal's type, whether the handling unit may see who
# asked, and the emergency lines (information only).
ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        variable=True,
        code="appeal_type",
        datatype=Datatype.SINGLEVALUELIST,
        required=False,
        order=1,
        description=f"诉求类型（不填按“{DEFAULT_APPEAL_TYPE.label_zh}”受理）",
        values=tuple(AttributeValue(t.value, t.label_zh) for t in AppealType),
        default=DEFAULT_APPEAL_TYPE.value,
    ),
    Attribute(
        variable=True,
        code="anonymous",
        datatype=Datatype.SINGLEVALUELIST,
        required=False,
        order=2,
        description="匿名反映：承办单位看不到诉求人的姓名和电话（不填电话时总是匿名）",
        values=(AttributeValue("false", "否"), AttributeValue("true", "是")),
        default="false",
    ),
    Attribute(
        variable=False,
        code="emergency_notice",
        datatype=Datatype.STRING,
        required=False,
        order=3,
        description=EMERGENCY_NOTICE,
    ),
)
_ATTRIBUTE = {a.code: a for a in ATTRIBUTES}


# --- dates -----------------------------------------------------------------------------------

# "2026-11-02T09:00:00+08:00" typed into a URL unencoded arrives with a space for the "+".
_SPACE_FOR_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


def parse_w3(value: str, field: str) -> datetime:
    """A W3C date-time with its time zone, as the spec requires of start_date/end_date."""
    text = _SPACE_FOR_PLUS.sub(r"\1+\2", value.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or "T" not in text or parsed.tzinfo is None:
        raise bad_request(
            f"{field}_invalid",
            f"{field} 须为带时区的 W3C 日期时间，如 2026-11-02T09:00:00+08:00",
            f"{field} must be a W3C date-time with a time zone, e.g. 2026-11-02T09:00:00Z",
        )
    return parsed


def w3(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds")


def window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The span of a request list: the last 90 days by default, never more than 90."""
    if start is None and end is None:
        return now - WINDOW, now
    if start is None:
        assert end is not None
        return end - WINDOW, end
    if end is None:
        return start, start + WINDOW
    if end < start:
        raise bad_request(
            "date_range_invalid",
            "end_date 不能早于 start_date",
            "end_date is before start_date",
        )
    if end - start > WINDOW:
        raise bad_request(
            "date_range_too_long",
            "start_date 到 end_date 不能超过 90 天",
            "start_date to end_date may not span more than 90 days",
        )
    return start, end


# --- a request list's filters ----------------------------------------------------------------


class PublicStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class RequestQuery:
    ids: tuple[int, ...]  # when given, every other filter is ignored (the spec's rule)
    service_codes: tuple[str, ...]
    start: datetime
    end: datetime
    statuses: frozenset[PublicStatus]  # empty: all


def _split(values: Sequence[str]) -> list[str]:
    """Comma lists, and the same parameter declared several times, as one list."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def parse_request_query(params: Sequence[tuple[str, str]], now: datetime) -> RequestQuery:
    """The filters of GET requests. A filter given empty counts as not given (the spec's
    "optional arguments"); anything else that cannot be read is a 400 naming it."""
    given: dict[str, list[str]] = {}
    for key, value in params:
        given.setdefault(key, []).append(value)
    problems: list[Problem] = []
    ids: list[int] = []
    for raw in _split(given.get("service_request_id", [])):
        if raw.isascii() and raw.isdigit() and len(raw) <= 18:
            ids.append(int(raw))
        else:
            problems.append(
                Problem(
                    "service_request_id_invalid",
                    "service_request_id 须为数字，多个用逗号分隔",
                    "service_request_id must be digits, several separated by commas",
                )
            )
            break
    if len(ids) > MAX_IDS:
        problems.append(
            Problem(
                "too_many_ids",
                f"一次最多查询 {MAX_IDS} 个 service_request_id",
                f"At most {MAX_IDS} service_request_id at once",
            )
        )
    statuses: set[PublicStatus] = set()
    for raw in _split(given.get("status", [])):
        try:
            statuses.add(PublicStatus(raw.lower()))
        except ValueError:
            problems.append(
                Problem(
                    "status_invalid",
                    "status 只能是 open 或 closed",
                    "status must be open or closed",
                )
            )
            break
    dates: dict[str, datetime | None] = {}
    for field in ("start_date", "end_date"):
        values = [v for v in given.get(field, []) if v.strip()]
        try:
            dates[field] = parse_w3(values[0], field) if values else None
        except Open311Error as exc:
            problems.extend(exc.problems)
            dates[field] = None
    start, end = now, now
    if not problems:
        try:
            start, end = window(dates["start_date"], dates["end_date"], now)
        except Open311Error as exc:
            problems.extend(exc.problems)
    if problems:
        raise Open311Error(400, problems)
    return RequestQuery(
        ids=tuple(dict.fromkeys(ids)),
        service_codes=tuple(dict.fromkeys(_split(given.get("service_code", [])))),
        start=start,
        end=end,
        statuses=frozenset(statuses),
    )


# --- a new request's form --------------------------------------------------------------------

# Top-level fields of POST requests; the spec's optional ones are read, others ignored.
_SCALARS = frozenset(
    {
        "api_key",
        "jurisdiction_id",
        "service_code",
        "lat",
        "long",
        "address_string",
        "address_id",
        "email",
        "device_id",
        "account_id",
        "first_name",
        "last_name",
        "phone",
        "description",
        "media_url",
    }
)
_ATTRIBUTE_KEY = re.compile(r"attribute\[([^\[\]]{1,64})\](\[\])?")


@dataclass(frozen=True)
class RequestForm:
    """A new request as the client sent it, checked. `email`, `device_id` and
    `account_id` are read and dropped: Minyi keeps no e-mail addresses or device ids."""

    service_code: str
    description: str
    lat: float | None
    long: float | None
    address_string: str | None
    address_id: str | None
    media_url: str | None
    name: str | None
    phone: str | None
    appeal_type: AppealType
    anonymous: bool


def api_key_of(pairs: Sequence[tuple[str, str]]) -> str | None:
    for key, value in pairs:
        if key == "api_key" and value.strip():
            return value.strip()
    return None


def parse_request_form(pairs: Sequence[tuple[str, str]]) -> RequestForm:
    """Every problem of the form at once (400), or the checked form. Values the client
    sent are never quoted back: error bodies end up in logs."""
    problems: list[Problem] = []
    fields: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    for key, value in pairs:
        if key in _SCALARS:
            if key in fields:
                problems.append(
                    Problem(f"{key}_repeated", f"字段 {key} 只能填写一次", f"{key} given twice")
                )
            fields[key] = value.strip()
            continue
        match = _ATTRIBUTE_KEY.fullmatch(key)
        if match is not None:
            attributes.setdefault(match.group(1), []).append(value.strip())
    code = fields.get("service_code", "")
    if not code:
        problems.append(
            Problem("service_code_required", "请填写 service_code", "service_code is required")
        )
    description = fields.get("description", "")
    if not description:
        problems.append(
            Problem("description_required", "请填写诉求内容", "description is required")
        )
    elif len(description) > MAX_DESCRIPTION:
        problems.append(
            Problem(
                "description_too_long",
                f"诉求内容不能超过 {MAX_DESCRIPTION} 个字",
                f"description is limited to {MAX_DESCRIPTION} characters",
            )
        )
    lat, long = _coordinates(fields.get("lat", ""), fields.get("long", ""), problems)
    address = fields.get("address_string") or None
    address_id = fields.get("address_id") or None
    located = lat is not None or address is not None or address_id is not None
    if not located and not (_has(problems, "lat") or _has(problems, "long")):
        problems.append(
            Problem(
                "location_required",
                "请提供位置：lat 和 long，或 address_string，或 address_id",
                "Give a location: lat and long, or address_string, or address_id",
            )
        )
    _length(address, MAX_ADDRESS, "address_string", "地址", problems)
    _length(address_id, MAX_ADDRESS_ID, "address_id", "地址编码", problems)
    media_url = fields.get("media_url") or None
    if media_url is not None and not _is_web_url(media_url):
        problems.append(
            Problem(
                "media_url_invalid",
                f"media_url 须为 http 或 https 网址（不超过 {MAX_URL} 个字符）",
                f"media_url must be an http or https URL of at most {MAX_URL} characters",
            )
        )
    # Chinese order: family name first.
    name = "".join(fields.get(k, "") for k in ("last_name", "first_name")) or None
    _length(name, MAX_NAME, "name", "姓名", problems)
    phone = fields.get("phone") or None
    _length(phone, MAX_PHONE, "phone", "电话", problems)
    chosen = _attributes(attributes, problems)
    if problems:
        raise Open311Error(400, problems)
    return RequestForm(
        service_code=code,
        description=description,
        lat=lat,
        long=long,
        address_string=address,
        address_id=address_id,
        media_url=media_url,
        name=name,
        phone=phone,
        appeal_type=AppealType(chosen["appeal_type"]),
        # Without a phone there is no one to call back and nothing to hide: anonymous.
        anonymous=chosen["anonymous"] == "true" or phone is None,
    )


def _has(problems: Sequence[Problem], prefix: str) -> bool:
    return any(p.code.startswith(prefix) for p in problems)


def _coordinates(
    lat_raw: str, long_raw: str, problems: list[Problem]
) -> tuple[float | None, float | None]:
    if not lat_raw and not long_raw:
        return None, None
    if not lat_raw or not long_raw:
        problems.append(
            Problem(
                "lat_long_incomplete",
                "lat 和 long 须同时提供",
                "lat and long must be given together",
            )
        )
        return None, None
    lat = _number(lat_raw)
    long = _number(long_raw)
    if lat is None or not -90 <= lat <= 90:
        problems.append(
            Problem(
                "lat_invalid",
                "lat（纬度）须为 -90 到 90 之间的数字",
                "lat must be a number from -90 to 90",
            )
        )
    if long is None or not -180 <= long <= 180:
        problems.append(
            Problem(
                "long_invalid",
                "long（经度）须为 -180 到 180 之间的数字",
                "long must be a number from -180 to 180",
            )
        )
    if lat is None or long is None or _has(problems, "lat_") or _has(problems, "long_"):
        return None, None
    return lat, long


_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def _number(raw: str) -> float | None:
    # Plain decimals only: float() would also take "nan", "inf" and "1e400".
    if not _DECIMAL.fullmatch(raw):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


def _length(value: str | None, limit: int, field: str, label: str, problems: list[Problem]) -> None:
    if value is not None and len(value) > limit:
        problems.append(
            Problem(
                f"{field}_too_long",
                f"{label}不能超过 {limit} 个字符",
                f"{field} is limited to {limit} characters",
            )
        )


def _is_web_url(value: str) -> bool:
    if len(value) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _attributes(given: dict[str, list[str]], problems: list[Problem]) -> dict[str, str]:
    """The values of the service definition's attributes, defaults filled in."""
    chosen: dict[str, str] = {}
    for code, values in given.items():
        attribute = _ATTRIBUTE.get(code)
        if attribute is None or not attribute.variable:
            problems.append(
                Problem(
                    "attribute_unknown",
                    f"服务定义中没有属性 {code}",
                    f"The service definition has no attribute {code}",
                )
            )
            continue
        keys = {v.key for v in attribute.values}
        filled = [v for v in values if v]
        if len(filled) > 1 or any(v not in keys for v in filled):
            problems.append(
                Problem(
                    "attribute_invalid",
                    f"属性 {code} 只能取一个值：{'、'.join(sorted(keys))}",
                    f"attribute {code} takes one of: {', '.join(sorted(keys))}",
                )
            )
            continue
        if filled:
            chosen[code] = filled[0]
    for attribute in ATTRIBUTES:
        if attribute.variable and attribute.code not in chosen and attribute.default is not None:
            chosen[attribute.code] = attribute.default
    return chosen


def public_description(text: str) -> str:
    """At most the spec's 4,000 characters (other channels take longer texts)."""
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"
