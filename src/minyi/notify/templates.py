"""Chinese message templates: the packaged defaults in `data/templates.csv`, and the
wording admins give them at run time (`notify_template_override`, see `template_admin`).

Each CSV row is `code,audience,subject,text`; `text` uses `{name}` placeholders. An admin
may reword a template but not invent placeholders (callers pass only the default's), and
must keep `{tracking_code}` where the default has it: it is how a citizen tracks the appeal.
Rendering with a session (`render_for`) uses the overrides, cached per process and
refreshed when the stamp row says they changed.

Texts leave Minyi by SMS, WeChat, e-mail and webhooks, so personal data is masked here,
whatever the caller passes and whatever the wording: phone numbers as 138****5678, names as
张**, ID numbers and personal addresses never (passing one is a programming error), and
free text (summaries, replies) is scrubbed of phone and ID numbers.
"""

from __future__ import annotations

import csv
import logging
import math
import string
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from minyi.core.errors import ValidationFailed
from minyi.notify.domain import mask_name, mask_phone, mask_text
from minyi.notify.models import TemplateOverride, TemplateStamp

log = logging.getLogger(__name__)

TEMPLATES_PATH = Path(__file__).parent / "data" / "templates.csv"

PHONE_KEYS = frozenset({"phone", "mobile", "phone_number"})
NAME_KEYS = frozenset({"name", "requester_name"})
# Never needed in a notification: refused rather than masked, so a caller notices.
FORBIDDEN_KEYS = frozenset({"id_number", "id_card", "address", "home_address"})

# The placeholder a citizen tracks the appeal by: a template that has it keeps it.
TRACKING_PLACEHOLDERS = frozenset({"tracking_code"})
MAX_SUBJECT_LENGTH = 50
MAX_TEXT_LENGTH = 500
# One SMS segment holds 70 characters when any of them is Chinese (UCS-2); a longer message
# is split into segments of 67 (3 go to the header joining them), each one charged.
SMS_SEGMENT = 70
SMS_PART = 67
CITIZEN = "citizen"

# Values like the real ones, to show an admin what a recipient reads and to estimate the
# length of a message; personal ones are masked on rendering like any other.
SAMPLE_PARAMS: Mapping[str, str] = {
    "tracking_code": "7KQ2M9XH4T",
    "unit": "东风街道办事处",
    "reply": "已安排维修人员更换路灯，现已恢复照明。",
    "summary": "小区门口路灯损坏一周，夜间无照明",
    "name": "张三丰",
    "phone": "13812345678",
    "due": "11月3日 17:00",
    "level": "区级督办",
    "reason": "超期未办结",
    "years": "2027年",
}
SAMPLE_DEFAULT = "示例"


@dataclass(frozen=True)
class Template:
    code: str
    audience: str  # citizen / staff
    subject: str
    text: str

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(
            name for _, name, _, _ in string.Formatter().parse(self.text) if name is not None
        )

    @property
    def required_fields(self) -> frozenset[str]:
        """The placeholders an override must keep."""
        return self.fields & TRACKING_PLACEHOLDERS


@dataclass(frozen=True)
class Rendered:
    code: str
    subject: str
    text: str


@dataclass(frozen=True)
class WordingWarning:
    """Something an admin should know about a wording that is allowed all the same."""

    code: str
    message: str
    message_en: str


@cache
def load_templates(path: Path = TEMPLATES_PATH) -> dict[str, Template]:
    """Read once per process; a row with an unknown column or a duplicate code fails loudly."""
    templates: dict[str, Template] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            code = row["code"].strip()
            if code in templates:
                raise ValueError(f"template {code!r} appears twice in {path}")
            templates[code] = Template(
                code=code,
                audience=row["audience"].strip(),
                subject=row["subject"].strip(),
                text=row["text"].strip(),
            )
    return templates


def safe_params(params: Mapping[str, Any]) -> dict[str, str]:
    """The parameters as they may appear in a message: masked, as strings."""
    cleaned: dict[str, str] = {}
    for key, value in params.items():
        lowered = key.lower()
        if lowered in FORBIDDEN_KEYS:
            raise ValueError(f"{key} must never go into a notification")
        text = "" if value is None else str(value)
        if lowered in PHONE_KEYS:
            cleaned[key] = mask_phone(text)
        elif lowered in NAME_KEYS:
            cleaned[key] = mask_name(text)
        else:
            cleaned[key] = mask_text(text)
    return cleaned


def render(
    code: str, params: Mapping[str, Any], overrides: Mapping[str, Template] | None = None
) -> Rendered:
    """The subject and text of template `code` with `params` filled in, masked.

    `overrides` (from `current_overrides`) replaces the packaged wording; without it the
    CSV's is used, as before overrides existed.
    """
    templates = load_templates()
    if code not in templates:
        raise KeyError(f"no notification template {code!r}")
    found = (overrides or {}).get(code, templates[code])
    values = safe_params(params)
    missing = sorted(found.fields - values.keys())
    if missing:
        raise ValueError(f"template {code!r} needs {', '.join(missing)}")
    return Rendered(code=code, subject=found.subject, text=found.text.format_map(values))


def template(
    code: str, params: Mapping[str, Any], overrides: Mapping[str, Template] | None = None
) -> str:
    """The text of template `code` with `params` filled in, masked."""
    return render(code, params, overrides).text


def render_for(session: Session, code: str, params: Mapping[str, Any]) -> Rendered:
    """`render` with the wording the admins set, as every caller with a session should."""
    return render(code, params, current_overrides(session))


# --- checking an admin's wording (pure) ---------------------------------------------------


def _bad(code: str, message: str, message_en: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(code, message, message_en, details=details or None)


def placeholders_of(text: str) -> list[str]:
    """The placeholders of `text` in order, refusing anything but plain `{name}`.

    Doubled braces, formats (`{due:>10}`), conversions (`{unit!r}`), positions (`{}`, `{0}`)
    and attributes (`{unit.name}`) are refused: an admin means none of them, and an
    attribute or index would reach into the value instead of printing it.
    """
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        raise _bad(
            "template_bad_braces",
            "正文中的花括号不成对：花括号只能用于占位符，如 {tracking_code}",
            "Unbalanced braces in the text: braces may only enclose a placeholder",
        ) from None
    names: list[str] = []
    for literal, name, spec, conversion in parts:
        if "{" in literal or "}" in literal:
            raise _bad(
                "template_bad_braces",
                "正文中不能单独使用花括号：花括号只能用于占位符，如 {tracking_code}",
                "Braces may only enclose a placeholder such as {tracking_code}",
            )
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            shown = (
                "{"
                + name
                + ("!" + conversion if conversion else "")
                + (":" + spec if spec else "")
                + "}"
            )
            raise _bad(
                "template_bad_placeholder",
                f"占位符「{shown}」写法不对，只能写成 {{名称}}，如 {{tracking_code}}",
                f"The placeholder {shown} is malformed: write {{name}}, e.g. {{tracking_code}}",
                placeholder=shown,
            )
        names.append(name)
    return names


def sms_segments(length: int) -> int:
    return 1 if length <= SMS_SEGMENT else math.ceil(length / SMS_PART)


def length_warnings(default: Template, text: str) -> list[WordingWarning]:
    """A citizen's message longer than one SMS segment is split and charged per segment;
    estimated with the sample values, as the real ones vary."""
    if default.audience != CITIZEN:
        return []
    length = len(text.format_map(safe_params(sample_params(default, {}))))
    if length <= SMS_SEGMENT:
        return []
    parts = sms_segments(length)
    return [
        WordingWarning(
            "template_sms_long",
            f"按示例内容估算，短信约{length}字，超过{SMS_SEGMENT}字将拆成{parts}条发送并按条计费",
            f"With the sample values the SMS is about {length} characters: over {SMS_SEGMENT} "
            f"it is sent as {parts} parts, each charged",
        )
    ]


def check_override(default: Template, *, subject: str, text: str) -> list[WordingWarning]:
    """Refuse a wording the callers could not fill or a citizen could not track by; return
    what is allowed but worth a second look (a citizen's SMS over one segment).

    `subject` and `text` are taken as given (strip them first).
    """
    if not 1 <= len(subject) <= MAX_SUBJECT_LENGTH:
        raise _bad(
            "template_subject_length",
            f"标题须为1至{MAX_SUBJECT_LENGTH}字（现为{len(subject)}字）",
            f"The subject must be 1 to {MAX_SUBJECT_LENGTH} characters (it is {len(subject)})",
            length=len(subject),
        )
    if "{" in subject or "}" in subject:
        raise _bad(
            "template_bad_braces",
            "标题中不能使用花括号或占位符",
            "The subject may hold no braces or placeholders",
        )
    if not 1 <= len(text) <= MAX_TEXT_LENGTH:
        raise _bad(
            "template_text_length",
            f"正文须为1至{MAX_TEXT_LENGTH}字（现为{len(text)}字）",
            f"The text must be 1 to {MAX_TEXT_LENGTH} characters (it is {len(text)})",
            length=len(text),
        )
    used = set(placeholders_of(text))
    allowed = sorted(default.fields)
    unknown = sorted(used - default.fields)
    if unknown:
        shown = "、".join("{" + u + "}" for u in unknown)
        raise _bad(
            "template_unknown_placeholder",
            f"该模板不提供占位符 {shown}；可用的占位符："
            + ("、".join("{" + a + "}" for a in allowed) or "无"),
            f"This template has no placeholder {', '.join(unknown)}; available: "
            + (", ".join(allowed) or "none"),
            unknown=unknown,
            allowed=allowed,
        )
    dropped = sorted(default.required_fields - used)
    if dropped:
        raise _bad(
            "template_tracking_code_required",
            "正文须保留 {tracking_code}：群众凭查询码查询办理进度",
            "The text must keep {tracking_code}: it is how the citizen tracks the appeal",
            missing=dropped,
        )
    return length_warnings(default, text)


def sample_params(default: Template, given: Mapping[str, str]) -> dict[str, str]:
    """Sample values for every placeholder of `default`, `given` first (unmasked yet)."""
    unknown = sorted(set(given) - default.fields)
    if unknown:
        raise _bad(
            "template_unknown_placeholder",
            f"该模板不提供占位符 {'、'.join(unknown)}",
            f"This template has no placeholder {', '.join(unknown)}",
            unknown=unknown,
            allowed=sorted(default.fields),
        )
    return {
        name: given.get(name, SAMPLE_PARAMS.get(name, SAMPLE_DEFAULT))
        for name in sorted(default.fields)
    }


def override_problem(default: Template, *, subject: str, text: str) -> str | None:
    """Why a stored wording no longer fits its default (a release changed the CSV), or None."""
    try:
        check_override(default, subject=subject, text=text)
    except ValidationFailed as exc:
        return exc.code
    return None


# --- the overrides of this database, cached per process -----------------------------------

_lock = threading.Lock()
_cache: dict[str, dict[str, Template]] = {}


def _stamp(session: Session) -> str:
    token = session.scalar(select(TemplateStamp.token).where(TemplateStamp.id == 1))
    return token if token is not None else ""


def touch(session: Session) -> None:
    """Mark the overrides changed. Call it before reading what is to change: on PostgreSQL
    the update locks the stamp row, so two admins' edits run one after the other."""
    token = uuid.uuid4().hex
    changed = session.execute(
        update(TemplateStamp).where(TemplateStamp.id == 1).values(token=token)
    )
    if getattr(changed, "rowcount", 1) == 0:  # a hand-made database without the row
        session.add(TemplateStamp(id=1, token=token))
    session.flush()


def current_overrides(session: Session) -> Mapping[str, Template]:
    """The admins' wordings by code, each in the shape of its default.

    One primary-key read while nothing changes. A wording that no longer fits its default
    (placeholders changed by a release) is skipped with a log line, so a stale edit never
    stops an appeal from being taken.
    """
    token = _stamp(session)
    with _lock:
        cached = _cache.get(token)
    if cached is not None:
        return cached
    defaults = load_templates()
    found: dict[str, Template] = {}
    for row in session.scalars(select(TemplateOverride)):
        default = defaults.get(row.code)
        if default is None:
            log.warning("template override %s has no default any more; ignored", row.code)
            continue
        problem = override_problem(default, subject=row.subject, text=row.text)
        if problem is not None:
            log.warning("template override %s ignored: %s", row.code, problem)
            continue
        found[row.code] = Template(
            code=row.code, audience=default.audience, subject=row.subject, text=row.text
        )
    with _lock:
        # Only the newest wordings are worth keeping.
        _cache.clear()
        _cache[token] = found
    return found


def clear_cache() -> None:
    with _lock:
        _cache.clear()
