"""Chinese message templates, kept as editable data in `data/templates.csv`.

Each row is `code,audience,subject,text`; `text` uses `{name}` placeholders. Editors change
the wording without touching code; a new placeholder needs the callers to pass it.

Texts leave Minyi by SMS, WeChat, e-mail and webhooks, so personal data is masked here,
whatever the caller passes: phone numbers as 138****5678, names as 张**, ID numbers and
personal addresses never (passing one is a programming error), and free text (summaries,
replies) is scrubbed of phone and ID numbers.
"""

from __future__ import annotations

import csv
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from minyi.notify.domain import mask_name, mask_phone, mask_text

TEMPLATES_PATH = Path(__file__).parent / "data" / "templates.csv"

PHONE_KEYS = frozenset({"phone", "mobile", "phone_number"})
NAME_KEYS = frozenset({"name", "requester_name"})
# Never needed in a notification: refused rather than masked, so a caller notices.
FORBIDDEN_KEYS = frozenset({"id_number", "id_card", "address", "home_address"})


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


@dataclass(frozen=True)
class Rendered:
    code: str
    subject: str
    text: str


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


def render(code: str, params: Mapping[str, Any]) -> Rendered:
    """The subject and text of template `code` with `params` filled in, masked."""
    templates = load_templates()
    if code not in templates:
        raise KeyError(f"no notification template {code!r}")
    found = templates[code]
    values = safe_params(params)
    missing = sorted(found.fields - values.keys())
    if missing:
        raise ValueError(f"template {code!r} needs {', '.join(missing)}")
    return Rendered(code=code, subject=found.subject, text=found.text.format_map(values))


def template(code: str, params: Mapping[str, Any]) -> str:
    """The text of template `code` with `params` filled in, masked."""
    return render(code, params).text
