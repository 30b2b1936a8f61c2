"""Admins reword the message templates at run time; the packaged CSV stays the default.

Every change is checked (`templates.check_override`), stored as one row per template,
marks the stamp so every process picks it up on its next message, and is audited with the
old and the new wording. Nothing here sends anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.audit import service as audit
from minyi.core.clock import Clock, aware, get_clock
from minyi.core.errors import NotFound
from minyi.notify.models import TemplateOverride
from minyi.notify.templates import (
    Rendered,
    Template,
    WordingWarning,
    check_override,
    current_overrides,
    length_warnings,
    load_templates,
    override_problem,
    render,
    sample_params,
    sms_segments,
    touch,
)


@dataclass(frozen=True)
class TemplateView:
    """One template as an admin sees it: the default, the wording in use, who changed it."""

    default: Template
    override: TemplateOverride | None
    # Why a stored wording is not used (a release changed the default's placeholders).
    problem: str | None

    @property
    def current(self) -> Template:
        if self.override is None or self.problem is not None:
            return self.default
        return Template(
            code=self.default.code,
            audience=self.default.audience,
            subject=self.override.subject,
            text=self.override.text,
        )


@dataclass(frozen=True)
class Saved:
    view: TemplateView
    warnings: list[WordingWarning]


@dataclass(frozen=True)
class Preview:
    rendered: Rendered
    warnings: list[WordingWarning]

    @property
    def length(self) -> int:
        return len(self.rendered.text)

    @property
    def sms_segments(self) -> int:
        return sms_segments(self.length)


def get_default_or_raise(code: str) -> Template:
    found = load_templates().get(code)
    if found is None:
        raise NotFound(
            "template_not_found", "找不到该消息模板", f"No notification template {code!r}"
        )
    return found


def _override(session: Session, code: str) -> TemplateOverride | None:
    return session.scalar(select(TemplateOverride).where(TemplateOverride.code == code))


def _view(default: Template, row: TemplateOverride | None) -> TemplateView:
    problem = None if row is None else override_problem(default, subject=row.subject, text=row.text)
    return TemplateView(default=default, override=row, problem=problem)


def list_templates(session: Session) -> list[TemplateView]:
    """Every template in the CSV's order (a dozen, so not paginated)."""
    rows = {row.code: row for row in session.scalars(select(TemplateOverride))}
    return [_view(default, rows.get(code)) for code, default in load_templates().items()]


def get_template(session: Session, code: str) -> TemplateView:
    return _view(get_default_or_raise(code), _override(session, code))


def set_override(
    session: Session,
    *,
    code: str,
    subject: str,
    text: str,
    actor: str,
    clock: Clock | None = None,
) -> Saved:
    """Give template `code` a new wording, used from the next message on.

    Refused (ValidationFailed, nothing stored) when the callers could not fill it or a
    citizen could no longer track the appeal by it; see `templates.check_override`.
    """
    default = get_default_or_raise(code)
    subject, text = subject.strip(), text.strip()
    warnings = check_override(default, subject=subject, text=text)
    now = (clock or get_clock()).now()
    touch(session)  # first: it serialises concurrent edits on the stamp row
    row = _override(session, code)
    old = _wording(default, row)
    if row is None:
        row = TemplateOverride(
            code=code, subject=subject, text=text, updated_by=actor, updated_at=now
        )
        session.add(row)
    else:
        row.subject, row.text, row.updated_by, row.updated_at = subject, text, actor, now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="notify.template.set",
        object_type="notify_template",
        object_id=code,
        data={"old": old, "new": _wording(default, row)},
        clock=clock,
    )
    return Saved(view=_view(default, row), warnings=warnings)


def reset_override(
    session: Session, *, code: str, actor: str, clock: Clock | None = None
) -> TemplateView:
    """Back to the packaged wording. Resetting a template that has none is a no-op (and
    is not audited: nothing changed)."""
    default = get_default_or_raise(code)
    if _override(session, code) is None:
        return _view(default, None)
    touch(session)
    row = _override(session, code)
    if row is not None:  # another admin may have reset it while we waited for the lock
        old = _wording(default, row)
        session.delete(row)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="notify.template.reset",
            object_type="notify_template",
            object_id=code,
            data={"old": old, "new": _wording(default, None)},
            clock=clock,
        )
    return _view(default, None)


def preview(
    session: Session,
    *,
    code: str,
    subject: str | None = None,
    text: str | None = None,
    params: Mapping[str, str] | None = None,
) -> Preview:
    """What a recipient would read: the wording in use, or a draft (checked like a save,
    nothing stored), filled with sample values or `params` and masked like a real message.
    """
    default = get_default_or_raise(code)
    values = sample_params(default, params or {})
    if subject is None and text is None:
        rendered = render(code, values, current_overrides(session))
        warnings = length_warnings(default, _current_text(session, default))
    else:
        current = get_template(session, code).current
        draft_subject = current.subject if subject is None else subject.strip()
        draft_text = current.text if text is None else text.strip()
        warnings = check_override(default, subject=draft_subject, text=draft_text)
        draft = Template(
            code=code, audience=default.audience, subject=draft_subject, text=draft_text
        )
        rendered = render(code, values, {code: draft})
    return Preview(rendered=rendered, warnings=warnings)


def _current_text(session: Session, default: Template) -> str:
    return current_overrides(session).get(default.code, default).text


def _wording(default: Template, row: TemplateOverride | None) -> dict[str, str | bool]:
    if row is None:
        return {"subject": default.subject, "text": default.text, "overridden": False}
    return {"subject": row.subject, "text": row.text, "overridden": True}


def updated_at(view: TemplateView) -> datetime | None:
    return None if view.override is None else aware(view.override.updated_at)
