"""Import and export of the organisation and the lists, and the coverage report."""

from __future__ import annotations

import io as stdio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from minyi.catalogue import io
from minyi.catalogue import service as catalogue
from minyi.catalogue.coverage import coverage_report
from minyi.catalogue.domain import ClosingRequirement, Process, ResponseLevel, StandardKind
from minyi.catalogue.models import (
    Batch,
    DistrictChoice,
    ImplementationRule,
    Item,
    ResponsibilityRule,
)
from minyi.catalogue.tabular import SPECS, Table, read_table
from minyi.core import db
from minyi.core.clock import FixedClock
from minyi.core.errors import ValidationFailed
from minyi.core.migrate import upgrade
from minyi.org import service as org
from minyi.org.domain import UnitKind
from minyi.org.models import Area, Unit
from tests.factories import Town, make_batch, make_items, make_town, make_unit

LEAF = "T4/T402/T40201"
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def table(kind: str, data: bytes, name: str | None = None) -> Table:
    return read_table(data, name or f"{kind}.csv", SPECS[kind])


def count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def where(exc: pytest.ExceptionInfo[ValidationFailed]) -> set[tuple[int | None, str | None]]:
    return {(p["row"], p["column"]) for p in exc.value.details}


def import_csv(session: Session, kind: str, data: bytes, **batch: Any) -> io.ImportReport:
    fields = {"batch_number": "2026-12", "reason": "测试导入", "effective_at": DEC_1} | batch
    return io.import_tables(session, [table(kind, data)], author="管理员", **fields)


@dataclass
class World:
    town: Town
    bureau: Unit  # 生态环境局, district level, with a law-enforcement section
    office: Unit  # 东风街道办
    leaf: Item
    batch: Batch


def make_world(session: Session) -> World:
    town = make_town(session)
    bureau = org.create_unit(
        session,
        code="EEB",
        name="T1区生态环境局",
        kind=UnitKind.DISTRICT_DEPARTMENT,
        area=town.district,
        sections=[("K1", "执法科")],
    )
    office = make_unit(session, "SO1", town.street, UnitKind.STREET_OFFICE, "东风街道办")
    batch = make_batch(session, "2026-01")
    _, _, leaf = make_items(session, batch)
    return World(town, bureau, office, leaf, batch)


# --- validation: every bad row, nothing stored ---------------------------------------------


def test_a_bad_file_reports_every_bad_row_and_stores_nothing(
    session: Session, clock: FixedClock
) -> None:
    # given
    make_world(session)
    data = csv(
        "item_path,area_code,lead_unit_code,co_unit_codes,legal_basis",
        f"{LEAF},T1,EEB,SO1,《中华人民共和国噪声污染防治法》",
        "T4/T402/NOPE,T1,EEB,,",
        f"{LEAF},ZZ,XX,,",
        f"{LEAF},T1,EEB,,",
        f"{LEAF},T1-01,,,",
        f"{LEAF},T1-02,EEB,EEB,",
    )
    before = (count(session, Batch), count(session, ResponsibilityRule))

    # when
    with pytest.raises(ValidationFailed) as exc:
        import_csv(session, "responsibility", data)

    # then
    assert exc.value.code == "import_invalid"
    assert where(exc) == {
        (3, "item_path"),  # no such item
        (4, "area_code"),  # no such area
        (4, "lead_unit_code"),  # no such unit
        (5, "item_path"),  # repeats row 2
        (6, "lead_unit_code"),  # no lead unit
        (7, "co_unit_codes"),  # the lead cannot also be a co-unit
    }
    assert all(p["file"] == "responsibility.csv" for p in exc.value.details)
    assert all(p["reason"] and p["reason_en"] for p in exc.value.details)
    assert "6 处错误" in exc.value.message
    assert (count(session, Batch), count(session, ResponsibilityRule)) == before


def test_implementation_rows_report_bad_values_and_ranges(
    session: Session, clock: FixedClock
) -> None:
    make_world(session)
    data = csv(
        "事项路径,单位编码,办理流程,响应级别,联系时限（小时）,办结时限（天）,标准类型,最短天数,最长天数,办结要求",
        f"{LEAF},EEB,快速,24小时,24,5,强制性,,,已联系诉求人",
        f"{LEAF},,标准,3天,24,5,强制性,,,",
        f"{LEAF},SO1,标准,7天,24,,推荐性,9,3,",
        "T4/T402,,标准,7天,0,五,强制性,,,",
        "T4,,标准,7天,24,,强制性,,,拍照",
    )
    before = count(session, ImplementationRule)

    with pytest.raises(ValidationFailed) as exc:
        import_csv(session, "implementation", data)

    assert where(exc) == {
        (2, "process"),
        (3, "response_level"),
        (4, "min_days"),  # 9 > 3
        (5, "contact_hours"),  # 0 hours
        (5, "completion_days"),  # "五" is not a number
        (6, "completion_days"),  # a mandatory standard needs one
        (6, "closing_requirements"),  # "拍照" is not a requirement
    }
    assert count(session, ImplementationRule) == before


def test_header_problems_are_reported_on_row_one(session: Session, clock: FixedClock) -> None:
    make_world(session)
    data = csv("事项路径,牵头单位,牵头单元", f"{LEAF},EEB,x")

    with pytest.raises(ValidationFailed) as exc:
        import_csv(session, "responsibility", data)

    assert where(exc) == {(1, "牵头单元"), (1, "area_code")}


def test_a_file_that_is_not_utf8_is_refused_with_a_hint(
    session: Session, clock: FixedClock
) -> None:
    data = "编码,名称,层级\nT,T市,市\n".encode("gbk")

    with pytest.raises(ValidationFailed) as exc:
        import_csv(session, "areas", data)

    assert where(exc) == {(None, None)}
    assert "UTF-8" in exc.value.details[0]["reason"]


def test_areas_hang_one_level_under_an_existing_or_earlier_parent(
    session: Session, clock: FixedClock
) -> None:
    make_town(session)
    data = csv(
        "code,name,level,parent_code",
        "T1-03,南山街道,street,T1",  # fine
        "T1-03-001,桃源社区,community,T1",  # a community under a district
        "T1-09-001,后海社区,community,T1-09",  # its street comes later
        "T1-09,后海街道,street,T1",
        "T1,T1新区,district,T",  # exists with another name
        "T2,T2区,county,T",  # not a level
    )
    before = count(session, Area)

    with pytest.raises(ValidationFailed) as exc:
        import_csv(session, "areas", data)

    assert where(exc) == {(3, "parent_code"), (4, "parent_code"), (6, "name"), (7, "level")}
    assert count(session, Area) == before


def test_an_item_refinement_needs_its_parent_first(session: Session, clock: FixedClock) -> None:
    make_world(session)
    data = csv(
        "item_path,name",
        f"{LEAF}/01/a,打桩噪声细项",
        f"{LEAF}/01,夜间打桩",
    )

    with pytest.raises(ValidationFailed) as exc:
        import_csv(session, "items", data)

    assert where(exc) == {(2, "item_path")}
    assert count(session, Item) == 3


def test_a_district_value_must_lie_in_the_recommended_range(
    session: Session, clock: FixedClock
) -> None:
    # given: the rule in force recommends 3 to 7 days for the bureau
    world = make_world(session)
    catalogue.add_implementation(
        session,
        batch=world.batch,
        item=world.leaf,
        unit_id=world.bureau.id,
        standard_kind=StandardKind.RECOMMENDED,
        recommended_min_days=3,
        recommended_max_days=7,
    )
    session.flush()
    data = csv(
        "事项路径,单位编码,区县编码,办结时限",
        f"{LEAF},EEB,T1,5",  # fine
        f"{LEAF},EEB,T1-01,5",  # a street is not a district
        f"{LEAF},,T1,5",  # no default rule for the item
    )

    with pytest.raises(ValidationFailed) as exc:
        import_csv(session, "district_choices", data)
    assert where(exc) == {(3, "district_code"), (4, "item_path")}

    with pytest.raises(ValidationFailed) as exc:
        import_csv(
            session,
            "district_choices",
            csv("事项路径,单位编码,区县编码,办结时限", f"{LEAF},EEB,T1,10"),
        )
    assert where(exc) == {(2, "completion_days")}
    assert "3–7" in exc.value.details[0]["reason"]
    assert count(session, DistrictChoice) == 0


def test_a_batch_needs_a_number_and_a_reason_and_cannot_be_backdated(
    session: Session, clock: FixedClock
) -> None:
    make_world(session)
    data = csv("item_path,name", f"{LEAF}/01,夜间打桩噪声")

    with pytest.raises(ValidationFailed) as exc:
        import_csv(session, "items", data, reason="")
    assert exc.value.code == "batch_fields_missing"

    with pytest.raises(ValidationFailed) as exc:
        import_csv(session, "items", data, batch_number="2026-01")
    assert exc.value.code == "batch_number_taken"

    with pytest.raises(ValidationFailed) as exc:
        import_csv(session, "items", data, effective_at=datetime(2026, 10, 1, tzinfo=UTC))
    assert exc.value.code == "batch_backdated"
    assert count(session, Batch) == 1


def test_an_excel_sheet_with_a_title_row_reports_the_row_numbers_excel_shows(
    session: Session, clock: FixedClock
) -> None:
    # given: a sheet as offices make them, a title above the header, days typed as numbers
    make_world(session)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "实施清单"
    sheet.append(["2026年第12批实施清单"])
    sheet.append(["事项路径", "单位编码", "办结时限（天）", "备注"])
    sheet.append([LEAF, "EEB", 5, "夜间施工"])
    sheet.append([LEAF, "NOPE", 5.5, ""])
    out = stdio.BytesIO()
    book.save(out)

    # when
    with pytest.raises(ValidationFailed) as exc:
        io.import_file(
            session,
            io.ListKind.IMPLEMENTATION,
            "实施清单.xlsx",
            out.getvalue(),
            batch_number="2026-12",
            author="管理员",
            reason="调整",
            effective_at=DEC_1,
        )

    # then: row 4 is the fourth row of the sheet, not the second of the data
    assert where(exc) == {(4, "unit_code"), (4, "completion_days")}


# --- what a good import does ---------------------------------------------------------------


def test_chinese_headers_and_values_are_accepted(session: Session, clock: FixedClock) -> None:
    # given: a spreadsheet typed in Chinese, saved as CSV UTF-8 by Excel (with a BOM)
    world = make_world(session)
    areas = (
        "\ufeff编码,名称,层级,上级编码,别名,人口\nT1-03,南山街道,街道,T1,南山、南山区街道,120000\n"
    )
    units = (
        "单位编码,单位名称,单位类型,所属区域,上级单位,科室\n"
        "SO3,南山街道办,街道/乡镇,T1-03,,K1:城管科|K2:综治科\n"
    )
    impl = (
        "事项路径,承办单位,办理流程,响应级别,联系时限,办结时限,标准类型,最短天数,最长天数,办结要求\n"
        f"{LEAF},南山街道办,简易,24小时,12,,推荐性,3,7,已联系诉求人、办理结果照片\n"
    )

    # when
    io.import_tables(
        session,
        [
            table("areas", areas.encode("utf-8")),
            table("units", units.encode("utf-8")),
            table("implementation", impl.encode("utf-8")),
        ],
        batch_number="2026-12",
        author="管理员",
        reason="新设南山街道",
        effective_at=DEC_1,
    )

    # then
    street = org.get_area_by_code(session, "T1-03")
    assert street is not None
    assert (street.level, street.aliases, street.population) == (
        "street",
        ["南山", "南山区街道"],
        120000,
    )
    unit = org.get_unit_by_code(session, "SO3")
    assert unit is not None and unit.kind == UnitKind.STREET_OFFICE.value
    assert [(s.code, s.name) for s in unit.sections] == [("K1", "城管科"), ("K2", "综治科")]
    entry = catalogue.build_snapshot(session, catalogue.batch_in_force(session, DEC_1))
    rule = entry.implementation[(world.leaf.id, unit.id)]
    assert (rule.process, rule.response_level, rule.contact_hours) == (
        Process.SIMPLE,
        ResponseLevel.H24,
        12,
    )
    assert (rule.standard_kind, rule.recommended_min_days, rule.recommended_max_days) == (
        StandardKind.RECOMMENDED,
        3,
        7,
    )
    assert rule.closing_requirements == (
        ClosingRequirement.CITIZEN_CONTACTED,
        ClosingRequirement.RESULT_PHOTO,
    )


def test_an_import_is_one_batch_in_force_from_its_time_only(
    session: Session, clock: FixedClock
) -> None:
    # given: from January the bureau leads on construction noise in the district
    world = make_world(session)
    catalogue.add_responsibility(
        session,
        batch=world.batch,
        item=world.leaf,
        area=world.town.district,
        lead_unit_id=world.bureau.id,
    )
    session.flush()
    old_rows = count(session, ResponsibilityRule)

    # when: batch 2026-12 hands it to the street office from 1 December
    report = import_csv(
        session,
        "responsibility",
        csv(
            "事项路径,区域编码,牵头单位,协办单位,法律依据",
            f"{LEAF},T1,东风街道办,EEB,《噪声污染防治法》第七条",
            f"{LEAF},T1-02,EEB,,",
        ),
    )

    # then: one new batch holding both rows; the old batch is untouched
    assert report.batch is not None and report.batch.number == "2026-12"
    assert report.created == {"responsibility": 2}
    assert report.batch.summary == {"responsibility": 2}
    assert count(session, Batch) == 2
    assert count(session, ResponsibilityRule) == old_rows + 2
    before = catalogue.resolve(
        session,
        item_id=world.leaf.id,
        area_id=world.town.grid.id,
        at=datetime(2026, 11, 30, tzinfo=UTC),
    )
    after = catalogue.resolve(
        session,
        item_id=world.leaf.id,
        area_id=world.town.grid.id,
        at=datetime(2026, 12, 2, tzinfo=UTC),
    )
    assert before.responsibility is not None and after.responsibility is not None
    assert (before.batch_number, before.responsibility.lead_unit_id) == ("2026-01", world.bureau.id)
    assert (after.batch_number, after.responsibility.lead_unit_id) == ("2026-12", world.office.id)
    assert after.responsibility.co_unit_ids == (world.bureau.id,)
    assert after.responsibility.legal_basis == "《噪声污染防治法》第七条"


def test_rows_that_say_what_is_in_force_are_not_stored_again(
    session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    catalogue.add_responsibility(
        session,
        batch=world.batch,
        item=world.leaf,
        area=world.town.district,
        lead_unit_id=world.bureau.id,
    )
    session.flush()
    data = io.export_file(session, io.ListKind.RESPONSIBILITY, at=clock.now()).content

    report = import_csv(session, "responsibility", data)

    assert report.batch is None
    assert report.unchanged == {"responsibility": 1}
    assert count(session, Batch) == 1


# --- round trips ---------------------------------------------------------------------------


def build_lists(session: Session) -> World:
    """A world with every kind of row, including the awkward ones (sections, removed keys)."""
    world = make_world(session)
    org.create_unit(
        session,
        code="WAT",
        name="T市水务集团",
        kind=UnitKind.UTILITY,
        area=world.town.city,
        service="water",
        phone="0755-12345678",
        jurisdiction=[world.town.district],
    )
    refined = catalogue.add_item(
        session,
        batch=world.batch,
        code="01",
        name="夜间打桩",
        parent=world.leaf,
        keywords=["打桩", "夜间"],
    )
    catalogue.add_responsibility(
        session,
        batch=world.batch,
        item=world.leaf,
        area=world.town.district,
        lead_unit_id=world.bureau.id,
        lead_section_id=world.bureau.sections[0].id,
        co_unit_ids=[world.office.id],
        legal_basis="=《噪声污染防治法》",  # must not turn into a spreadsheet formula
    )
    catalogue.add_implementation(
        session,
        batch=world.batch,
        item=world.leaf,
        unit_id=world.bureau.id,
        process=Process.SIMPLE,
        response_level=ResponseLevel.H24,
        standard_kind=StandardKind.RECOMMENDED,
        recommended_min_days=3,
        recommended_max_days=7,
        closing_requirements=[ClosingRequirement.SITE_VISIT],
    )
    catalogue.add_implementation(
        session, batch=world.batch, item=refined, unit_id=None, completion_days=5
    )
    catalogue.add_district_choice(
        session,
        batch=world.batch,
        item=world.leaf,
        unit_id=world.bureau.id,
        district=world.town.district,
        completion_days=3,
    )
    session.flush()
    return world


def all_rows(session: Session, at: datetime) -> dict[str, list[dict[str, str]]]:
    return {k.value: io.export_rows(session, k, at=at) for k in io.TABLE_KINDS}


def test_a_csv_export_of_each_table_re_imports_into_an_empty_database(
    session: Session, clock: FixedClock
) -> None:
    # given: the exports of a populated database
    nested = session.begin_nested()
    build_lists(session)
    files = {
        k: io.export_file(session, k, fmt="csv", at=clock.now()).content for k in io.TABLE_KINDS
    }
    expected = all_rows(session, clock.now())
    nested.rollback()
    catalogue.get_index().clear()
    assert count(session, Area) == 0

    # when: they are imported into the emptied database
    report = io.import_tables(
        session,
        [table(k.value, files[k]) for k in io.TABLE_KINDS],
        batch_number="R-1",
        author="管理员",
        reason="迁移",
    )

    # then: the same tables come out again, the rules in one batch
    assert report.batch is not None
    assert report.created == {
        "areas": 6,
        "units": 3,
        "items": 4,
        "responsibility": 1,
        "implementation": 2,
        "district_choices": 1,
    }
    assert all_rows(session, clock.now()) == expected
    unit = org.get_unit_by_code(session, "WAT")
    assert unit is not None and unit.phone == "0755-12345678"


def test_an_excel_workbook_of_the_whole_set_round_trips(
    session: Session, clock: FixedClock
) -> None:
    nested = session.begin_nested()
    build_lists(session)
    workbook = io.export_file(
        session, io.ListKind.LISTS, fmt="xlsx", at=clock.now(), headers="zh"
    ).content
    expected = all_rows(session, clock.now())
    nested.rollback()
    catalogue.get_index().clear()

    # the sheets are named and headed in Chinese, and text stays text
    book = load_workbook(stdio.BytesIO(workbook), read_only=True)
    assert book.sheetnames == ["区域", "单位", "目录清单", "职责清单", "实施清单", "区县取值"]
    resp = list(book["职责清单"].iter_rows(values_only=True))
    book.close()
    assert resp[0][:3] == ("事项路径", "区域编码", "牵头单位")
    assert resp[1][5] == "=《噪声污染防治法》"

    io.import_file(
        session,
        io.ListKind.LISTS,
        "lists.xlsx",
        workbook,
        batch_number="R-1",
        author="管理员",
        reason="迁移",
    )

    assert all_rows(session, clock.now()) == expected
    # and the same workbook, imported again, changes nothing
    again = io.import_file(
        session,
        io.ListKind.LISTS,
        "lists.xlsx",
        workbook,
        batch_number="R-2",
        author="a",
        reason="b",
    )
    assert again.batch is None and sum(again.created.values()) == 0


# --- coverage ------------------------------------------------------------------------------


def test_the_coverage_report_finds_the_gaps(session: Session, clock: FixedClock) -> None:
    # given: three leaves under 噪声污染
    world = make_world(session)
    mid = world.leaf.parent
    assert mid is not None
    orphan = catalogue.add_item(
        session, batch=world.batch, code="T40202", name="社会生活噪声", parent=mid
    )
    park = catalogue.add_item(
        session, batch=world.batch, code="T40203", name="公园噪声", parent=mid
    )
    # construction noise: only the first street has an owner, and the bureau has no rule
    catalogue.add_responsibility(
        session,
        batch=world.batch,
        item=world.leaf,
        area=world.town.street,
        lead_unit_id=world.bureau.id,
    )
    # park noise: the street office, 3–7 days recommended, and the district picked 10
    catalogue.add_responsibility(
        session,
        batch=world.batch,
        item=park,
        area=world.town.district,
        lead_unit_id=world.office.id,
    )
    catalogue.add_implementation(
        session,
        batch=world.batch,
        item=park,
        unit_id=world.office.id,
        standard_kind=StandardKind.RECOMMENDED,
        recommended_min_days=3,
        recommended_max_days=7,
    )
    catalogue.add_district_choice(
        session,
        batch=world.batch,
        item=park,
        unit_id=world.office.id,
        district=world.town.district,
        completion_days=10,
    )
    session.flush()

    # when
    report = coverage_report(session, at=clock.now())

    # then
    assert report.batch_number == "2026-01"
    assert report.leaf_items == 3
    assert [i.item_path for i in report.uncovered_items] == [orphan.path]
    assert [(g.item_path, g.district_code, g.area_codes) for g in report.district_gaps] == [
        (LEAF, "T1", ["T1-02"])
    ]
    assert [(m.item_path, m.unit_code, m.area_codes) for m in report.missing_implementations] == [
        (LEAF, "EEB", ["T1-01"])
    ]
    assert [
        (c.item_path, c.unit_code, c.district_code, c.completion_days, c.problem)
        for c in report.choice_problems
    ] == [(park.path, "SO1", "T1", 10, "out_of_range")]
    assert report.choice_problems[0].reason == "取值 10 天超出推荐范围 3–7 天，实际按 7 天计"


# --- the command line ----------------------------------------------------------------------


@pytest.fixture()
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A database of its own: the command commits, which the test transaction cannot undo."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    upgrade(engine)
    monkeypatch.setattr(db, "_engine", None)
    monkeypatch.setattr(db, "_factory", None)
    db.set_engine(engine)
    yield engine
    engine.dispose()


def test_the_command_line_lists_every_bad_row_and_exits_non_zero(
    cli_database: Any, tmp_path: Path
) -> None:
    from minyi.cli import app

    runner = CliRunner()
    good = tmp_path / "areas.csv"
    good.write_text("编码,名称,层级,上级编码\nT,T市,市,\nT1,T1区,区县,T\n", encoding="utf-8")
    bad = tmp_path / "more.csv"
    bad.write_text("编码,名称,层级,上级编码\nT2,,区县,T\nT3,T3区,省,T\n", encoding="utf-8")

    ok = runner.invoke(app, ["lists", "import", "areas", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "区域 2 行" in ok.stdout

    failed = runner.invoke(app, ["lists", "import", "areas", str(bad)])
    assert failed.exit_code == 1
    assert "more.csv 第 2 行 [name]" in failed.stderr
    assert "more.csv 第 3 行 [level]" in failed.stderr

    out = tmp_path / "export.xlsx"
    exported = runner.invoke(app, ["lists", "export", "areas", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "已导出 2 行" in exported.stdout
    assert out.read_bytes()[:2] == b"PK"

    coverage = runner.invoke(app, ["lists", "coverage", "--json"])
    assert coverage.exit_code == 0, coverage.output
    assert '"uncovered_count": 0' in coverage.stdout
