"""Imports every domain's tables so that metadata (and Alembic) sees the whole schema."""

from __future__ import annotations


def import_all_models() -> None:
    import minyi.assessment.models
    import minyi.audit.models
    import minyi.catalogue.models
    import minyi.intake.models
    import minyi.notify.models
    import minyi.org.models
    import minyi.sla.calendar.models
    import minyi.sla.models
    import minyi.tickets.models
    import minyi.triage.duplicate_models
    import minyi.triage.knowledge.models
    import minyi.triage.models  # noqa: F401
