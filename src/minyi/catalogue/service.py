"""Use cases of the three lists: batches, items, rules, and "who handles X in Y at T"."""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.audit import service as audit
from minyi.catalogue.domain import (
    DEFAULT_CONTACT_HOURS,
    ClosingRequirement,
    ImplementationEntry,
    ListSnapshot,
    Process,
    Resolution,
    ResponseLevel,
    ResponsibilityEntry,
    StandardKind,
    item_path,
)
from minyi.catalogue.models import (
    Batch,
    DistrictChoice,
    ImplementationRule,
    Item,
    ResponsibilityRule,
)
from minyi.core.clock import Clock, get_clock
from minyi.core.errors import NotFound, ValidationFailed
from minyi.org import service as org_service
from minyi.org.models import Area

STANDARD_FILE = Path("catalogue") / "db44t2479-2024-appendix-a.csv"

# --- batches -----------------------------------------------------------------------------


def create_batch(
    session: Session,
    *,
    number: str,
    author: str,
    reason: str,
    effective_at: datetime,
    clock: Clock | None = None,
    allow_backdated: bool = False,
    actor: str | None = None,
) -> Batch:
    """Open a new adjustment batch (调整批次). Its rows are added in the same transaction;
    the batch is written to the audit trail as `actor` (default: its author)."""
    now = (clock or get_clock()).now()
    check_batch_fields(
        session,
        number=number,
        reason=reason,
        effective_at=effective_at,
        now=now,
        allow_backdated=allow_backdated,
    )
    batch = Batch(
        number=number.strip(),
        author=author,
        reason=reason.strip(),
        effective_at=effective_at,
        created_at=now,
        summary={},
    )
    session.add(batch)
    session.flush()
    audit.record(
        session,
        actor=actor or f"author:{author}",
        action="catalogue.batch.create",
        object_type="batch",
        object_id=batch.number,
        data={"reason": batch.reason, "effective_at": effective_at.isoformat()},
        clock=clock,
    )
    return batch


def check_batch_fields(
    session: Session,
    *,
    number: str | None,
    reason: str | None,
    effective_at: datetime,
    now: datetime,
    allow_backdated: bool = False,
) -> None:
    """A batch needs a fresh number, a reason and an effective time not in the past.

    Backdating is refused unless asked for (loading history): a batch taking effect in
    the past would change which lists tickets already routed were routed under.
    """
    number = (number or "").strip()
    if not number or not (reason or "").strip():
        raise ValidationFailed(
            "batch_fields_missing",
            "调整批次必须填写批次号和调整原因",
            "A batch needs a number and a reason",
        )
    if len(number) > 32:
        raise ValidationFailed(
            "batch_number_too_long",
            "批次号最多 32 个字符",
            "A batch number has at most 32 characters",
        )
    if effective_at.tzinfo is None:
        raise ValidationFailed(
            "naive_time", "生效时间必须带时区", "effective_at must carry a timezone"
        )
    if session.scalar(select(Batch.id).where(Batch.number == number)) is not None:
        raise ValidationFailed(
            "batch_number_taken",
            f"批次号 {number} 已存在，已发布的批次不能改写",
            f"Batch {number} already exists; published batches are never rewritten",
        )
    # A minute of slack: "now" typed into a form is a little in the past when it arrives.
    if not allow_backdated and effective_at < now - timedelta(minutes=1):
        raise ValidationFailed(
            "batch_backdated",
            "生效时间早于当前时间：补录历史批次会改变过去已派出工单所依据的清单",
            "effective_at is in the past: a backdated batch would change the lists "
            "that tickets were already routed under",
        )


def get_batch(session: Session, batch_id: int) -> Batch | None:
    return session.get(Batch, batch_id)


def list_batches(session: Session, *, offset: int = 0, limit: int = 50) -> tuple[list[Batch], int]:
    total = session.scalar(select(func.count()).select_from(Batch)) or 0
    rows = session.scalars(
        select(Batch).order_by(Batch.effective_at, Batch.id).offset(offset).limit(limit)
    ).all()
    return list(rows), total


def batch_in_force(session: Session, at: datetime) -> Batch | None:
    return session.scalar(
        select(Batch)
        .where(Batch.effective_at <= at)
        .order_by(Batch.effective_at.desc(), Batch.id.desc())
        .limit(1)
    )


def record_summary(batch: Batch, **counts: int) -> None:
    summary = dict(batch.summary or {})
    for key, value in counts.items():
        summary[key] = summary.get(key, 0) + value
    batch.summary = summary


# --- items -------------------------------------------------------------------------------


def get_item(session: Session, item_id: int) -> Item | None:
    return session.get(Item, item_id)


def get_item_by_path(session: Session, path: str) -> Item | None:
    return session.scalar(select(Item).where(Item.path == path))


def get_item_by_path_or_raise(session: Session, path: str) -> Item:
    item = get_item_by_path(session, path)
    if item is None:
        raise NotFound("item_not_found", f"找不到事项 {path}", f"No catalogue item {path}")
    return item


def items_by_code(session: Session, code: str) -> list[Item]:
    """Every node printed with this code (090499 names two)."""
    return list(session.scalars(select(Item).where(Item.code == code).order_by(Item.path)))


def display_name(item: Item) -> str:
    """An item printed without a name stands under its parent's name (as the standard does)."""
    if item.name:
        return item.name
    if item.parent is not None:
        return item.parent.name
    return item.code


def add_item(
    session: Session,
    *,
    batch: Batch,
    code: str,
    name: str,
    parent: Item | None,
    definition: str = "",
    keywords: Sequence[str] = (),
    source_node_id: str | None = None,
    source_anomaly: str | None = None,
) -> Item:
    """Add a catalogue node; below level 3 this is a refinement (noise → construction noise)."""
    path = item_path([*(parent.path.split("/") if parent else []), code])
    if get_item_by_path(session, path) is not None:
        raise ValidationFailed(
            "item_exists", f"事项 {path} 已存在", f"Catalogue item {path} already exists"
        )
    item = Item(
        path=path,
        code=code,
        name=name,
        level=(parent.level + 1) if parent else 1,
        parent_id=parent.id if parent else None,
        definition=definition,
        keywords=list(keywords),
        source_node_id=source_node_id,
        source_anomaly=source_anomaly,
        introduced_batch_id=batch.id,
    )
    session.add(item)
    session.flush()
    return item


def list_items(
    session: Session,
    *,
    level: int | None = None,
    parent_id: int | None = None,
    code: str | None = None,
    q: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Item], int]:
    stmt = select(Item)
    if level is not None:
        stmt = stmt.where(Item.level == level)
    if parent_id is not None:
        stmt = stmt.where(Item.parent_id == parent_id)
    if code is not None:
        stmt = stmt.where(Item.code == code)
    if q:
        stmt = stmt.where(Item.name.contains(q) | Item.definition.contains(q))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Item.path).offset(offset).limit(limit)).all()
    return list(rows), total


@dataclass(frozen=True)
class StandardRow:
    node_id: str
    codes: tuple[str, str, str]
    names: tuple[str, str, str]
    remark: str
    anomaly: str


def read_standard(path: Path) -> list[StandardRow]:
    """The rows of DB44/T 2479-2024 table A.1, exactly as printed."""
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            StandardRow(
                node_id=row["node_id"],
                codes=(row["level_1_code"], row["level_2_code"], row["level_3_code"]),
                names=(row["level_1_name"], row["level_2_name"], row["level_3_name"]),
                remark=row["remark"] or "",
                anomaly=row["source_anomaly"] or "",
            )
            for row in csv.DictReader(fh)
        ]


def standard_path(shared_data: Path) -> Path:
    path = shared_data / STANDARD_FILE
    if not path.is_file():
        raise NotFound(
            "shared_data_missing",
            f"找不到分类标准文件：{path}（请设置 MINYI_SHARED_DATA）",
            f"The classification standard was not found at {path} (set MINYI_SHARED_DATA)",
        )
    return path


def seed_standard(session: Session, *, batch: Batch, rows: Iterable[StandardRow]) -> int:
    """Load the printed standard as the catalogue, keeping its codes and gaps as printed.

    Nodes are identified by path, so the two 090499 rows become two items and the 13 rows
    with no third-level name keep an empty name (shown under their parent's name).
    Returns the number of items added.
    """
    by_path: dict[str, Item] = {i.path: i for i in session.scalars(select(Item))}
    added = 0
    for row in rows:
        parent: Item | None = None
        for depth in range(3):
            path = item_path(row.codes[: depth + 1])
            node = by_path.get(path)
            if node is None:
                leaf = depth == 2
                node = Item(
                    path=path,
                    code=row.codes[depth],
                    name=row.names[depth],
                    level=depth + 1,
                    parent_id=parent.id if parent else None,
                    definition=row.remark if leaf else "",
                    keywords=[],
                    source_node_id=row.node_id if leaf else None,
                    source_anomaly=(row.anomaly or None) if leaf else None,
                    introduced_batch_id=batch.id,
                )
                session.add(node)
                session.flush()
                by_path[path] = node
                added += 1
            parent = node
    record_summary(batch, items=added)
    return added


# --- rules -------------------------------------------------------------------------------


def add_responsibility(
    session: Session,
    *,
    batch: Batch,
    item: Item,
    area: Area,
    lead_unit_id: int | None,
    co_unit_ids: Sequence[int] = (),
    legal_basis: str = "",
    lead_section_id: int | None = None,
    removed: bool = False,
) -> ResponsibilityRule:
    """职责清单 row: who leads on `item` in `area` from this batch on (or, removed, nobody)."""
    if not removed and lead_unit_id is None:
        raise ValidationFailed(
            "lead_unit_missing",
            "职责规则必须指定牵头单位",
            "A responsibility rule needs a lead unit",
        )
    if lead_unit_id is not None and lead_unit_id in co_unit_ids:
        raise ValidationFailed(
            "lead_is_co_unit",
            "牵头单位不能同时是协办单位",
            "The lead unit cannot also be a co-unit",
        )
    rule = ResponsibilityRule(
        batch_id=batch.id,
        item_id=item.id,
        area_id=area.id,
        lead_unit_id=lead_unit_id,
        lead_section_id=lead_section_id,
        co_unit_ids=list(co_unit_ids),
        legal_basis=legal_basis,
        removed=removed,
    )
    session.add(rule)
    return rule


def add_implementation(
    session: Session,
    *,
    batch: Batch,
    item: Item,
    unit_id: int | None,
    process: Process = Process.STANDARD,
    response_level: ResponseLevel = ResponseLevel.D15,
    contact_hours: int = DEFAULT_CONTACT_HOURS,
    completion_days: int | None = None,
    standard_kind: StandardKind = StandardKind.MANDATORY,
    recommended_min_days: int | None = None,
    recommended_max_days: int | None = None,
    closing_requirements: Sequence[ClosingRequirement] = (),
    removed: bool = False,
) -> ImplementationRule:
    """实施清单 row for (item, unit); unit None is the item's default for any unit."""
    problems = implementation_problems(
        standard_kind=standard_kind,
        completion_days=completion_days,
        recommended_min_days=recommended_min_days,
        recommended_max_days=recommended_max_days,
        contact_hours=contact_hours,
    )
    if problems and not removed:
        zh, en = problems[0]
        raise ValidationFailed("implementation_invalid", zh, en)
    rule = ImplementationRule(
        batch_id=batch.id,
        item_id=item.id,
        unit_id=unit_id,
        process=process.value,
        response_level=response_level.value,
        contact_hours=contact_hours,
        completion_days=completion_days,
        standard_kind=standard_kind.value,
        recommended_min_days=recommended_min_days,
        recommended_max_days=recommended_max_days,
        closing_requirements=[c.value for c in closing_requirements],
        removed=removed,
    )
    session.add(rule)
    return rule


def implementation_problems(
    *,
    standard_kind: StandardKind,
    completion_days: int | None,
    recommended_min_days: int | None,
    recommended_max_days: int | None,
    contact_hours: int,
) -> list[tuple[str, str]]:
    """What is wrong with an implementation row, in Chinese and English (empty: nothing)."""
    problems: list[tuple[str, str]] = []
    if contact_hours <= 0:
        problems.append(("联系时限必须大于 0 小时", "contact_hours must be positive"))
    if completion_days is not None and completion_days <= 0:
        problems.append(("办结时限必须大于 0 天", "completion_days must be positive"))
    if standard_kind is StandardKind.RECOMMENDED:
        if recommended_min_days is None or recommended_max_days is None:
            problems.append(
                (
                    "推荐性标准必须给出时限范围（最短、最长天数）",
                    "a recommended standard needs a min and max number of days",
                )
            )
        elif not 0 < recommended_min_days <= recommended_max_days:
            problems.append(
                (
                    "推荐范围无效：最短天数必须大于 0 且不大于最长天数",
                    "the recommended range needs 0 < min <= max",
                )
            )
    elif completion_days is None:
        problems.append(
            (
                "强制性或个性化标准必须给出办结时限",
                "a mandatory or individual standard needs completion_days",
            )
        )
    return problems


def add_district_choice(
    session: Session,
    *,
    batch: Batch,
    item: Item,
    unit_id: int | None,
    district: Area,
    completion_days: int,
) -> DistrictChoice:
    """A district's value inside a recommended range (checked by the coverage report)."""
    choice = DistrictChoice(
        batch_id=batch.id,
        item_id=item.id,
        unit_id=unit_id,
        district_id=district.id,
        completion_days=completion_days,
    )
    session.add(choice)
    return choice


def list_responsibility_rules(
    session: Session,
    *,
    batch_id: int | None = None,
    item_id: int | None = None,
    area_id: int | None = None,
    unit_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[ResponsibilityRule], int]:
    """Rows as recorded, batch by batch (the history; `resolve` gives what is in force)."""
    stmt = select(ResponsibilityRule)
    if batch_id is not None:
        stmt = stmt.where(ResponsibilityRule.batch_id == batch_id)
    if item_id is not None:
        stmt = stmt.where(ResponsibilityRule.item_id == item_id)
    if area_id is not None:
        stmt = stmt.where(ResponsibilityRule.area_id == area_id)
    if unit_id is not None:
        stmt = stmt.where(ResponsibilityRule.lead_unit_id == unit_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(ResponsibilityRule.id).offset(offset).limit(limit)).all()
    return list(rows), total


def list_implementation_rules(
    session: Session,
    *,
    batch_id: int | None = None,
    item_id: int | None = None,
    unit_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[ImplementationRule], int]:
    stmt = select(ImplementationRule)
    if batch_id is not None:
        stmt = stmt.where(ImplementationRule.batch_id == batch_id)
    if item_id is not None:
        stmt = stmt.where(ImplementationRule.item_id == item_id)
    if unit_id is not None:
        stmt = stmt.where(ImplementationRule.unit_id == unit_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(ImplementationRule.id).offset(offset).limit(limit)).all()
    return list(rows), total


# --- snapshots and resolution ------------------------------------------------------------


class ListIndex:
    """Caches one `ListSnapshot` per batch in force; rebuilt when batches or areas change.

    Building a snapshot reads every rule once (tens of thousands of rows, well under a
    second); after that a resolution is a few dictionary look-ups.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: dict[tuple[int | None, tuple[int, int, int]], ListSnapshot] = {}

    def clear(self) -> None:
        with self._lock:
            self._snapshots.clear()

    def snapshot(self, session: Session, at: datetime) -> ListSnapshot:
        batch_id, stamp = _in_force_and_stamp(session, at)
        key = (batch_id, stamp)
        snap = self._snapshots.get(key)
        if snap is None:
            snap = build_snapshot(session, session.get(Batch, batch_id) if batch_id else None)
            with self._lock:
                if len(self._snapshots) > 16:
                    self._snapshots.clear()
                self._snapshots[key] = snap
        return snap


def _in_force_and_stamp(session: Session, at: datetime) -> tuple[int | None, tuple[int, int, int]]:
    """One round trip: the batch in force at `at`, and a stamp that changes whenever a
    batch, an area or an item is added (rows are only ever added, so max ids suffice)."""
    in_force = (
        select(Batch.id)
        .where(Batch.effective_at <= at)
        .order_by(Batch.effective_at.desc(), Batch.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    row = session.execute(
        select(
            in_force,
            select(func.coalesce(func.max(Batch.id), 0)).scalar_subquery(),
            select(func.coalesce(func.max(Area.id), 0)).scalar_subquery(),
            select(func.coalesce(func.max(Item.id), 0)).scalar_subquery(),
        )
    ).one()
    return (int(row[0]) if row[0] is not None else None), (int(row[1]), int(row[2]), int(row[3]))


_index = ListIndex()


def get_index() -> ListIndex:
    return _index


def build_snapshot(session: Session, batch: Batch | None) -> ListSnapshot:
    """The lists as in force under `batch` (and every batch before it), indexed."""
    batch_order: list[tuple[int, str]] = []
    if batch is not None:
        batch_order = [
            (b.id, b.number)
            for b in session.scalars(
                select(Batch)
                .where(
                    (Batch.effective_at < batch.effective_at)
                    | ((Batch.effective_at == batch.effective_at) & (Batch.id <= batch.id))
                )
                .order_by(Batch.effective_at, Batch.id)
            )
        ]
    rank = {bid: i for i, (bid, _) in enumerate(batch_order)}
    number = dict(batch_order)

    items = {
        row.id: row.parent_id
        for row in session.execute(select(Item.id, Item.parent_id, Item.introduced_batch_id))
        if row.introduced_batch_id in rank
    }
    area_rows = session.execute(select(Area.id, Area.parent_id, Area.level)).all()
    area_parent = {r.id: r.parent_id for r in area_rows}
    levels = {r.id: r.level for r in area_rows}

    responsibility: dict[tuple[int, int], ResponsibilityEntry] = {}
    for rule in _in_order(session, ResponsibilityRule, rank):
        key = (rule.item_id, rule.area_id)
        if rule.removed or rule.lead_unit_id is None:
            responsibility.pop(key, None)
            continue
        responsibility[key] = ResponsibilityEntry(
            rule_id=rule.id,
            item_id=rule.item_id,
            area_id=rule.area_id,
            lead_unit_id=rule.lead_unit_id,
            lead_section_id=rule.lead_section_id,
            co_unit_ids=tuple(rule.co_unit_ids or ()),
            legal_basis=rule.legal_basis,
            batch_number=number[rule.batch_id],
        )

    implementation: dict[tuple[int, int | None], ImplementationEntry] = {}
    for impl in _in_order(session, ImplementationRule, rank):
        ikey = (impl.item_id, impl.unit_id)
        if impl.removed:
            implementation.pop(ikey, None)
            continue
        implementation[ikey] = implementation_entry(impl, number[impl.batch_id])

    district_values: dict[tuple[int, int | None, int], int] = {}
    for choice in _in_order(session, DistrictChoice, rank):
        district_values[(choice.item_id, choice.unit_id, choice.district_id)] = (
            choice.completion_days
        )

    return ListSnapshot(
        batch_number=batch.number if batch else None,
        item_parent=items,
        area_parent=area_parent,
        district_of=org_service.district_of(area_parent, levels),
        responsibility=responsibility,
        implementation=implementation,
        district_values=district_values,
    )


def implementation_entry(impl: Any, batch_number: str) -> ImplementationEntry:
    """From an `ImplementationRule` or a plain row of its table."""
    return ImplementationEntry(
        rule_id=impl.id,
        item_id=impl.item_id,
        unit_id=impl.unit_id,
        process=Process(impl.process),
        response_level=ResponseLevel(impl.response_level),
        contact_hours=impl.contact_hours,
        completion_days=impl.completion_days,
        standard_kind=StandardKind(impl.standard_kind),
        recommended_min_days=impl.recommended_min_days,
        recommended_max_days=impl.recommended_max_days,
        closing_requirements=tuple(ClosingRequirement(c) for c in impl.closing_requirements),
        batch_number=batch_number,
    )


_Rule = TypeVar("_Rule", ResponsibilityRule, ImplementationRule, DistrictChoice)


def _in_order(session: Session, model: type[_Rule], rank: dict[int, int]) -> list[Any]:
    """Rows of `model` from the batches in `rank`, oldest batch first. Plain rows, not ORM
    objects: a snapshot reads tens of thousands of them and only needs their values."""
    if not rank:
        return []
    table = model.__table__
    rows = session.execute(select(table).where(table.c.batch_id.in_(list(rank)))).all()
    return sorted(rows, key=lambda r: (rank[r.batch_id], r.id))


def resolve(session: Session, *, item_id: int, area_id: int, at: datetime) -> Resolution:
    """Who handles item X in area Y at time T, and by when — from the batch in force at T."""
    return get_index().snapshot(session, at).resolve(item_id, area_id)
