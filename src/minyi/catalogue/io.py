"""Import and export of the organisation and the three lists (CSV and Excel).

An import is all or nothing: every row of every table is checked first, and if any is bad
the import raises `ValidationFailed("import_invalid")` with every problem
(`{file, row, column, reason, reason_en}`, the row as the spreadsheet shows it) in
`details`, and nothing is stored — not even the batch. Otherwise areas and units are
created directly, and items and rules go into ONE new adjustment batch (调整批次) with its
number, author, reason and effective time; earlier batches are never touched.

A batch may not take effect in the past unless asked (`allow_backdated`, for loading the
history of a new deployment): tickets already routed recorded the batch in force, and a
backdated batch would change what "in force at T" meant after the fact.

The column sets are described in `catalogue.tabular`; the coverage report lives in
`catalogue.coverage`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy.orm import Session

from minyi.audit import service as audit
from minyi.catalogue import io_export, io_lists, io_org, service
from minyi.catalogue.io_context import (
    AreaPlan,
    ChoicePlan,
    ImplementationPlan,
    ImportContext,
    ItemPlan,
    Progress,
    ResponsibilityPlan,
    UnitPlan,
)
from minyi.catalogue.models import Batch
from minyi.catalogue.schemas import BatchRead
from minyi.catalogue.tabular import (
    CSV_MEDIA_TYPE,
    SPECS,
    XLSX_MEDIA_TYPE,
    Format,
    Headers,
    Problem,
    Table,
    TableSpec,
    normalise_header,
    problem,
    read_table,
    read_workbook,
    write_csv,
    write_xlsx,
)
from minyi.core.clock import Clock, get_clock
from minyi.core.config import get_settings
from minyi.core.errors import NotFound, ValidationFailed


class ListKind(StrEnum):
    AREAS = "areas"
    UNITS = "units"
    ITEMS = "items"
    RESPONSIBILITY = "responsibility"
    IMPLEMENTATION = "implementation"
    DISTRICT_CHOICES = "district_choices"
    LISTS = "lists"  # every table above, one sheet each (Excel only)


TABLE_KINDS: tuple[ListKind, ...] = tuple(k for k in ListKind if k is not ListKind.LISTS)
# Items and rules are versioned by batch; areas and units are not.
BATCH_KINDS = frozenset(
    {ListKind.ITEMS, ListKind.RESPONSIBILITY, ListKind.IMPLEMENTATION, ListKind.DISTRICT_CHOICES}
)
KIND_ZH: dict[ListKind, str] = {
    **{ListKind(k): spec.zh for k, spec in SPECS.items()},
    ListKind.LISTS: "整套清单",
}


def parse_kind(text: str) -> ListKind:
    """`district-choices`, `district_choices` and `区县取值` all name the same table."""
    key = normalise_header(text)
    for kind in ListKind:
        if key in (kind.value, normalise_header(KIND_ZH[kind])):
            return kind
    raise NotFound(
        "list_kind_unknown",
        f"没有名为“{text}”的表；可用：" + "、".join(f"{k.value}（{KIND_ZH[k]}）" for k in ListKind),
        f"No table kind {text!r}; use one of: " + ", ".join(k.value for k in ListKind),
    )


def parse_time(text: str) -> datetime:
    """ISO 8601; a time without a zone (or a bare date) is read in the city's own zone."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationFailed(
            "time_invalid",
            f"时间“{text}”无效，请用 ISO 格式，如 2026-08-01T00:00+08:00",
            f"Time {text!r} is not ISO 8601 (e.g. 2026-08-01T00:00+08:00)",
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return value


def local_time(value: datetime) -> str:
    """A time as the city reads it: 2026-12-01 00:00 (Asia/Shanghai)."""
    zone = get_settings().timezone
    return f"{value.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} ({zone})"


def read_tables(kind: ListKind, filename: str, data: bytes) -> list[Table]:
    if kind is ListKind.LISTS:
        return read_workbook(data, filename)
    return [read_table(data, filename, SPECS[kind.value])]


# --- import ------------------------------------------------------------------------------


@dataclass
class ImportPlan:
    """What a validated import will store."""

    ctx: ImportContext
    kinds: list[ListKind]
    rows: int
    areas: list[AreaPlan] = field(default_factory=list)
    units: list[UnitPlan] = field(default_factory=list)
    items: list[ItemPlan] = field(default_factory=list)
    responsibility: list[ResponsibilityPlan] = field(default_factory=list)
    implementation: list[ImplementationPlan] = field(default_factory=list)
    district_choices: list[ChoicePlan] = field(default_factory=list)

    @property
    def batch_rows(self) -> int:
        return (
            len(self.items)
            + len(self.responsibility)
            + len(self.implementation)
            + len(self.district_choices)
        )

    @property
    def total(self) -> int:
        return len(self.areas) + len(self.units) + self.batch_rows


class ImportReport(BaseModel):
    kinds: list[str]
    rows: int  # data rows read
    created: dict[str, int]  # rows stored, per table
    unchanged: dict[str, int]  # rows that said what is already there, per table
    batch: BatchRead | None  # None when nothing versioned changed
    message: str
    message_en: str


def validate_tables(
    session: Session,
    tables: Sequence[Table],
    *,
    effective_at: datetime,
    progress: Progress | None = None,
) -> ImportPlan:
    """Check every row of every table; raise `import_invalid` with all problems, or plan."""
    ctx = ImportContext(session, effective_at=effective_at, progress=progress)
    by_kind: dict[ListKind, Table] = {}
    for table in tables:
        ctx.problems.extend(table.problems)
        kind = ListKind(table.spec.kind)
        if table.problems and not table.columns:
            continue  # the file could not be read; its problems say why
        if kind in by_kind:
            ctx.problems.append(
                problem(
                    table.file,
                    None,
                    None,
                    f"“{KIND_ZH[kind]}”出现了不止一次",
                    f"The {kind.value} table appears more than once",
                )
            )
            continue
        by_kind[kind] = table
    plan = ImportPlan(ctx=ctx, kinds=list(by_kind), rows=sum(len(t.rows) for t in by_kind.values()))
    if progress is not None:
        progress.start("validate", plan.rows)
    for kind in TABLE_KINDS:
        found = by_kind.get(kind)
        if found is None or _missing_required(found):
            continue  # without a required column every row would only repeat that problem
        if kind is ListKind.AREAS:
            plan.areas = io_org.validate_areas(ctx, found)
        elif kind is ListKind.UNITS:
            plan.units = io_org.validate_units(ctx, found)
        elif kind is ListKind.ITEMS:
            plan.items = io_lists.validate_items(ctx, found)
        elif kind is ListKind.RESPONSIBILITY:
            plan.responsibility = io_lists.validate_responsibility(ctx, found)
        elif kind is ListKind.IMPLEMENTATION:
            plan.implementation = io_lists.validate_implementation(ctx, found)
        else:
            plan.district_choices = io_lists.validate_district_choices(ctx, found)
    if ctx.problems:
        n = len(ctx.problems)
        raise ValidationFailed(
            "import_invalid",
            f"导入文件有 {n} 处错误，未导入任何内容",
            f"The import has {n} problem(s); nothing was imported",
            details=list(ctx.problems),
        )
    return plan


def _missing_required(table: Table) -> bool:
    return any(c.required and c.name not in table.columns for c in table.spec.columns)


def import_tables(
    session: Session,
    tables: Sequence[Table],
    *,
    batch_number: str | None,
    author: str,
    reason: str | None,
    effective_at: datetime | None = None,
    allow_backdated: bool = False,
    clock: Clock | None = None,
    progress: Progress | None = None,
    actor: str | None = None,
) -> ImportReport:
    """Validate, then store everything in one go (items and rules in one new batch).
    The import is written to the audit trail as `actor` (e.g. `user:3`, `cli`)."""
    now = (clock or get_clock()).now()
    when = effective_at or now
    kinds = {ListKind(t.spec.kind) for t in tables}
    if kinds & BATCH_KINDS:
        service.check_batch_fields(
            session,
            number=batch_number,
            reason=reason,
            effective_at=when,
            now=now,
            allow_backdated=allow_backdated,
        )
    plan = validate_tables(session, tables, effective_at=when, progress=progress)
    ctx = plan.ctx
    if progress is not None:
        progress.start("store", plan.total)
    created: Counter[str] = Counter()
    created["areas"] = io_org.store_areas(ctx, plan.areas)
    created["units"] = io_org.store_units(ctx, plan.units)
    batch: Batch | None = None
    if plan.batch_rows:
        batch = service.create_batch(
            session,
            number=(batch_number or "").strip(),
            author=author[:100],  # the column's width; a name is never that long
            reason=(reason or "").strip(),
            effective_at=when,
            clock=clock,
            allow_backdated=allow_backdated,
        )
        created["items"] = io_lists.store_items(ctx, batch, plan.items)
        created["responsibility"] = io_lists.store_responsibility(ctx, batch, plan.responsibility)
        created["implementation"] = io_lists.store_implementation(ctx, batch, plan.implementation)
        created["district_choices"] = io_lists.store_district_choices(
            ctx, batch, plan.district_choices
        )
        service.record_summary(
            batch, **{k: n for k, n in created.items() if n and ListKind(k) in BATCH_KINDS}
        )
    session.flush()
    audit.record(
        session,
        actor=actor or f"author:{author}",
        action="lists.import",
        object_type="batch" if batch is not None else "organisation",
        object_id=batch.number if batch is not None else "-",
        data={"created": dict(+created), "kinds": sorted(k.value for k in kinds)},
        clock=clock,
    )
    return _report(plan, +created, batch)


def _report(plan: ImportPlan, created: Counter[str], batch: Batch | None) -> ImportReport:
    unchanged = +plan.ctx.unchanged
    done_zh = "，".join(f"{KIND_ZH[ListKind(k)]} {n} 行" for k, n in created.items()) or "无"
    done_en = ", ".join(f"{k} {n}" for k, n in created.items()) or "nothing"
    same = sum(unchanged.values())
    if batch is not None:
        when = local_time(batch.effective_at)
        batch_zh = f"；批次 {batch.number} 于 {when} 生效"
        batch_en = f"; batch {batch.number} takes effect at {when}"
    else:
        batch_zh = batch_en = ""
    return ImportReport(
        kinds=[k.value for k in plan.kinds],
        rows=plan.rows,
        created=dict(created),
        unchanged=dict(unchanged),
        batch=BatchRead.model_validate(batch) if batch is not None else None,
        message=f"已导入：{done_zh}；与现有数据相同 {same} 行{batch_zh}",
        message_en=f"Imported: {done_en}; {same} row(s) already as stored{batch_en}",
    )


def import_file(
    session: Session,
    kind: ListKind,
    filename: str,
    data: bytes,
    *,
    batch_number: str | None = None,
    author: str,
    reason: str | None = None,
    effective_at: datetime | None = None,
    allow_backdated: bool = False,
    clock: Clock | None = None,
    progress: Progress | None = None,
    actor: str | None = None,
) -> ImportReport:
    """Read one uploaded file (CSV or .xlsx) and import it; see `import_tables`."""
    return import_tables(
        session,
        read_tables(kind, filename, data),
        actor=actor,
        batch_number=batch_number,
        author=author,
        reason=reason,
        effective_at=effective_at,
        allow_backdated=allow_backdated,
        clock=clock,
        progress=progress,
    )


# --- export ------------------------------------------------------------------------------

_EXPORTERS: dict[ListKind, Callable[[Session, datetime], list[dict[str, str]]]] = {
    ListKind.AREAS: lambda session, _at: io_export.export_areas(session),
    ListKind.UNITS: lambda session, _at: io_export.export_units(session),
    ListKind.ITEMS: io_export.export_items,
    ListKind.RESPONSIBILITY: io_export.export_responsibility,
    ListKind.IMPLEMENTATION: io_export.export_implementation,
    ListKind.DISTRICT_CHOICES: io_export.export_district_choices,
}


def export_rows(session: Session, kind: ListKind, *, at: datetime) -> list[dict[str, str]]:
    """One table as in force at `at` (areas and units as they stand: they carry no batch)."""
    if kind is ListKind.LISTS:
        raise ValidationFailed(
            "export_one_table", "请指定一张表", "Name one table (not the whole set)"
        )
    return _EXPORTERS[kind](session, at)


@dataclass(frozen=True)
class ExportFile:
    filename: str
    media_type: str
    content: bytes
    rows: int


def export_file(
    session: Session,
    kind: ListKind,
    *,
    fmt: Format = "csv",
    at: datetime,
    headers: Headers = "en",
) -> ExportFile:
    """A file that re-imports cleanly: CSV (one table) or .xlsx (one table, or the set)."""
    kinds = TABLE_KINDS if kind is ListKind.LISTS else (kind,)
    tables: list[tuple[TableSpec, list[dict[str, str]]]] = [
        (SPECS[k.value], export_rows(session, k, at=at)) for k in kinds
    ]
    rows = sum(len(r) for _, r in tables)
    stamp = at.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y%m%d-%H%M")
    name = f"minyi-{kind.value}-{stamp}.{fmt}"
    if fmt == "csv":
        if kind is ListKind.LISTS:
            raise ValidationFailed(
                "csv_one_table",
                "CSV 文件只能放一张表；整套清单请导出为 Excel（xlsx）",
                "A CSV holds one table; export the whole set as xlsx",
            )
        spec, table_rows = tables[0]
        return ExportFile(name, CSV_MEDIA_TYPE, write_csv(spec, table_rows, headers), rows)
    return ExportFile(name, XLSX_MEDIA_TYPE, write_xlsx(tables, headers), rows)


def problem_lines(problems: Sequence[Problem]) -> list[str]:
    """Problems as lines a person reads in a terminal or an e-mail."""
    lines = []
    for p in problems:
        where = p["file"] + (f" 第 {p['row']} 行" if p["row"] is not None else "")
        column = f" [{p['column']}]" if p["column"] else ""
        lines.append(f"{where}{column}：{p['reason']} / {p['reason_en']}")
    return lines
