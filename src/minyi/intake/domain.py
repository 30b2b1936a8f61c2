"""Pure rules of intake: channels, appeal types, tracking codes, identity numbers, dedupe.

Every channel produces the same appeal record; the channel is a tag (SPEC §2 step 1,
"多渠道受理, 多口归一"). Who may file on a channel is data here, so the service only asks.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import date
from enum import StrEnum

from minyi.org.domain import Role, UnitKind


class Channel(StrEnum):
    HOTLINE = "hotline"  # 12345 热线: a hotline agent types the call
    APP = "app"  # the WeChat mini-program "@民意速办"
    WEB = "web"
    WINDOW = "window"  # a party-mass service centre's counter (党群服务中心)
    EMAIL = "email"
    PARTY_MEMBER = "party_member"  # 党员反映
    GRID_WORKER = "grid_worker"  # 网格员上报
    LEADER_BOARD = "leader_board"  # 领导留言板
    UNRESOLVED_WINDOW = "unresolved_window"  # "办不成事"反映窗口
    OPEN311 = "open311"
    SYSTEM = "system"  # a unit's or district's own case system, with an API key
    IMPORT = "import"

    @property
    def label_zh(self) -> str:
        return CHANNEL_LABEL_ZH[self]

    @property
    def access(self) -> ChannelAccess:
        return CHANNEL_ACCESS[self]


CHANNEL_LABEL_ZH: dict[Channel, str] = {
    Channel.HOTLINE: "12345热线",
    Channel.APP: "小程序",
    Channel.WEB: "网站",
    Channel.WINDOW: "党群服务中心窗口",
    Channel.EMAIL: "电子邮件",
    Channel.PARTY_MEMBER: "党员反映",
    Channel.GRID_WORKER: "网格员上报",
    Channel.LEADER_BOARD: "领导留言板",
    Channel.UNRESOLVED_WINDOW: "“办不成事”反映窗口",
    Channel.OPEN311: "Open311接口",
    Channel.SYSTEM: "单位/区级自建系统",
    Channel.IMPORT: "批量导入",
}


class ChannelAccess(StrEnum):
    PUBLIC = "public"  # anyone; a citizen's token links the appeal to the account
    STAFF = "staff"  # typed in by a staff member on the citizen's behalf
    MACHINE = "machine"  # a machine client's API key with the appeals:create scope


CHANNEL_ACCESS: dict[Channel, ChannelAccess] = {
    Channel.HOTLINE: ChannelAccess.STAFF,
    Channel.APP: ChannelAccess.PUBLIC,
    Channel.WEB: ChannelAccess.PUBLIC,
    Channel.WINDOW: ChannelAccess.STAFF,
    Channel.EMAIL: ChannelAccess.STAFF,
    Channel.PARTY_MEMBER: ChannelAccess.STAFF,
    Channel.GRID_WORKER: ChannelAccess.STAFF,
    Channel.LEADER_BOARD: ChannelAccess.STAFF,
    Channel.UNRESOLVED_WINDOW: ChannelAccess.STAFF,
    Channel.OPEN311: ChannelAccess.PUBLIC,
    Channel.SYSTEM: ChannelAccess.MACHINE,
    Channel.IMPORT: ChannelAccess.STAFF,
}

# The city and district centres' people take in whatever arrives, on any staff channel.
_CENTRE_ROLES = frozenset({Role.AGENT.value, Role.DISPATCHER.value, Role.ADMIN.value})
# Party-mass service centres, "办不成事" windows and party-member reports sit at the
# street and community level, so their own staff type those appeals in.
_LOCAL_UNITS = frozenset(
    {
        UnitKind.STREET_OFFICE.value,
        UnitKind.COMMUNITY_COMMITTEE.value,
        UnitKind.GRID_STATION.value,
    }
)
_LOCAL_ROLES = frozenset({Role.HANDLER.value, Role.LEADER.value})
_GRID_UNITS = frozenset({UnitKind.GRID_STATION.value, UnitKind.COMMUNITY_COMMITTEE.value})


def staff_may_submit(channel: Channel, role: str | None, unit_kind: str | None) -> bool:
    """Whether a staff user of this role, in a unit of this kind, may file on `channel`."""
    if channel.access is not ChannelAccess.STAFF or role is None:
        return False
    if channel is Channel.IMPORT:
        # Bulk loading bypasses the caller on the line: only those who keep the data.
        return role in (Role.ADMIN.value, Role.DISPATCHER.value)
    if role in _CENTRE_ROLES:
        return True
    if channel in (Channel.WINDOW, Channel.UNRESOLVED_WINDOW, Channel.PARTY_MEMBER):
        return role in _LOCAL_ROLES and unit_kind in _LOCAL_UNITS
    if channel is Channel.GRID_WORKER:
        return role in _LOCAL_ROLES and unit_kind in _GRID_UNITS
    if channel is Channel.LEADER_BOARD:
        # A leader's office forwards the messages left on the leader's board.
        return role == Role.LEADER.value
    return False


class AppealType(StrEnum):
    COMPLAINT = "complaint"
    REQUEST = "request"
    CONSULTATION = "consultation"
    SUGGESTION = "suggestion"
    REPORT = "report"
    PRAISE = "praise"

    @property
    def label_zh(self) -> str:
        return APPEAL_TYPE_LABEL_ZH[self]


APPEAL_TYPE_LABEL_ZH: dict[AppealType, str] = {
    AppealType.COMPLAINT: "投诉",
    AppealType.REQUEST: "求助",
    AppealType.CONSULTATION: "咨询",
    AppealType.SUGGESTION: "建议",
    AppealType.REPORT: "举报",
    AppealType.PRAISE: "表扬",
}


class RequesterKind(StrEnum):
    PERSON = "person"
    COMPANY = "company"

    @property
    def label_zh(self) -> str:
        return "个人" if self is RequesterKind.PERSON else "企业"


# --- tracking codes ------------------------------------------------------------------------

# No 0/O, 1/I/L: read aloud over the phone or copied from an SMS, they are confused.
# 31 symbols, a prime, so that a weighted sum modulo 31 is a field and every weight works.
TRACKING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TRACKING_CODE_LENGTH = 10
_BASE = len(TRACKING_ALPHABET)
_VALUE = {c: i for i, c in enumerate(TRACKING_ALPHABET)}
# Distinct powers of the primitive root 3 mod 31: as every weight differs from every other,
# a single wrong symbol and any swap of two different symbols change the sum (ISO 7064's
# idea with a check symbol drawn from the same alphabet).
_WEIGHTS = tuple(pow(3, TRACKING_CODE_LENGTH - 1 - i, _BASE) for i in range(TRACKING_CODE_LENGTH))


def _check_symbol(payload: str) -> str:
    total = sum(w * _VALUE[c] for w, c in zip(_WEIGHTS, payload, strict=False))
    # The check symbol carries weight 3**0 = 1: it makes the whole sum 0 mod 31.
    return TRACKING_ALPHABET[-total % _BASE]


def new_tracking_code() -> str:
    """Nine random symbols (44.6 bits, from `secrets`) and a check symbol."""
    payload = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_CODE_LENGTH - 1))
    return payload + _check_symbol(payload)


def normalise_tracking_code(raw: str) -> str:
    """Upper case without spaces or dashes: what a citizen types is compared in this form."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", raw)).upper()


def is_valid_tracking_code(raw: str) -> bool:
    code = normalise_tracking_code(raw)
    if len(code) != TRACKING_CODE_LENGTH or any(c not in _VALUE for c in code):
        return False
    return _check_symbol(code[:-1]) == code[-1]


# --- phone numbers, ID numbers, credit codes -------------------------------------------------

_MOBILE = re.compile(r"1[3-9]\d{9}")
# Area code (0 + 2 or 3 digits) and a 7- or 8-digit subscriber number.
_LANDLINE = re.compile(r"0[1-9]\d{8,10}")
_SERVICE = re.compile(r"[48]00\d{7}")  # 400/800 company numbers


def normalise_phone(raw: str) -> str | None:
    """A mainland mobile, landline (with area code) or 400/800 number as bare digits.

    Spaces, dashes, brackets and full-width digits are accepted; `None` when it is not
    a number one could call back.
    """
    text = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", raw))
    for prefix in ("+86", "0086", "86"):
        if text.startswith(prefix) and _MOBILE.fullmatch(text[len(prefix) :]):
            text = text[len(prefix) :]
            break
    if _MOBILE.fullmatch(text) or _LANDLINE.fullmatch(text) or _SERVICE.fullmatch(text):
        return text
    return None


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"[1-9]\d{16}[\dX]")


def normalise_id_number(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().upper()


def is_valid_id_number(raw: str, *, today: date | None = None) -> bool:
    """The 18-digit resident identity number of GB 11643-1999: a real birth date and the
    ISO 7064 MOD 11-2 check character."""
    number = normalise_id_number(raw)
    if not _ID_SHAPE.fullmatch(number):
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if born.year < 1850 or (today is not None and born > today):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


# GB 32100-2015: no I, O, S, V, Z, which are confused with 1, 0, 5, U, 2.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_SHAPE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")


def normalise_credit_code(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().upper()


def is_valid_credit_code(raw: str) -> bool:
    """The 18-character unified social credit code (统一社会信用代码) of GB 32100-2015:
    its alphabet, a six-digit division code, and the mod-31 check character."""
    code = normalise_credit_code(raw)
    if not _USCC_SHAPE.fullmatch(code):
        return False
    total = sum(_USCC_VALUE[c] * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31] == code[17]


# --- duplicates ----------------------------------------------------------------------------

# A second identical submission within this window is a retry, not a new appeal.
DEDUPE_WINDOW_MINUTES = 10


def normalise_text(text: str) -> str:
    """Full-width folded, lower case, without any whitespace: retyped or re-pasted text
    that differs only in spacing counts as the same."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def requester_key(
    *,
    phone: str | None = None,
    credit_code: str | None = None,
    user_id: int | None = None,
    client_id: int | None = None,
) -> str:
    """Who is asking, for duplicate detection: the company, else the phone, else the
    account, else the machine client; an appeal with none of them is from "anyone"."""
    if credit_code:
        return f"uscc:{credit_code}"
    if phone:
        return f"tel:{phone}"
    if user_id is not None:
        return f"user:{user_id}"
    if client_id is not None:
        return f"client:{client_id}"
    return "anyone"


def dedupe_hash(channel: str, requester: str, text: str) -> str:
    """SHA-256 over channel, requester and normalised text. The phone number inside
    cannot be read back from the hash without also knowing the text."""
    material = "\x1f".join((channel, requester, normalise_text(text)))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


# Code that would run in a browser: nobody describes a broken street light with it, and
# refusing it at the door keeps every channel, export and partner system clean. Other
# angle brackets ("<5米", "<b>") are ordinary text, stored and always shown escaped.
_ACTIVE_MARKUP = re.compile(
    r"<\s*/?\s*(script|iframe|object|embed|svg|style)\b|javascript\s*:|\bon[a-z]+\s*=\s*[\"']",
    re.IGNORECASE,
)


def has_active_markup(text: str) -> bool:
    """Whether `text` carries a script tag, an embedded frame or an inline event handler."""
    return _ACTIVE_MARKUP.search(text) is not None


def default_title(text: str, limit: int = 30) -> str:
    """The first words of the text, when the citizen gave no title."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[:limit] + "…"
