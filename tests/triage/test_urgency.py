"""Urgency and emergency detection: the rule list against fixed cases.

The cases (tests/triage/data/urgency_cases.csv) are written ones (W…, and H… written after the
rules were frozen) and real messages from ../shared/data/appeals (R…), which are read by id so
the personal text never leaves ../shared. A look-alike is a message with an emergency's words
that is not one ("燃气费", "消防演练", "去年着火"); a false alarm is a look-alike handed over
to 110/119/120/122/gas.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from minyi.tickets.effects import EMERGENCY_LINES
from minyi.triage import urgency
from minyi.triage.urgency import (
    LINE_PRIORITY,
    RuleError,
    UrgencyAssessment,
    UrgencyLevel,
    assess,
    load_rules,
    normalise,
    rules_from_csv,
)

CASES = Path(__file__).parent / "data" / "urgency_cases.csv"
MAX_FALSE_ALARM_RATE = 0.05
HEADER = "rule_id,level,line,pattern,requires,excludes,scope,note\n"


@dataclass(frozen=True)
class Case:
    case_id: str
    source: str
    message_id: str
    text: str
    expected_level: UrgencyLevel
    expected_line: str | None
    kind: str


def _read_cases() -> list[Case]:
    with CASES.open(encoding="utf-8", newline="") as fh:
        return [
            Case(
                case_id=row["case_id"],
                source=row["source"],
                message_id=row["message_id"],
                text=row["text"],
                expected_level=UrgencyLevel(row["expected_level"]),
                expected_line=row["expected_line"] or None,
                kind=row["kind"],
            )
            for row in csv.DictReader(fh)
        ]


ALL_CASES = _read_cases()
WRITTEN = [c for c in ALL_CASES if c.source == "written"]
REAL = [c for c in ALL_CASES if c.source == "real"]


def _real_texts(appeals: Path, ids: set[str]) -> dict[str, str]:
    # train.csv ids are r…, test.csv ids are numbers: together they never collide.
    texts: dict[str, str] = {}
    for name in ("train.csv", "test.csv"):
        with (appeals / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["id"] in ids:
                    texts[row["id"]] = f"{row['title']}。{row['body']}"
    return texts


def _failures(cases: Iterable[tuple[Case, str]]) -> tuple[list[str], list[str], list[str]]:
    """Misses (emergency or urgent not caught), false alarms, and the look-alikes seen."""
    missed: list[str] = []
    false_alarms: list[str] = []
    lookalikes: list[str] = []
    for case, text in cases:
        result = assess(text)
        label = f"{case.case_id}: {result.level}/{result.emergency_line} {result.rule_ids}"
        if case.kind == "emergency":
            if not result.is_emergency or result.emergency_line != case.expected_line:
                missed.append(f"{label}, expected {case.expected_line}")
        elif case.kind == "urgent":
            if result.level is not UrgencyLevel.URGENT:
                missed.append(f"{label}, expected urgent")
        elif case.kind == "lookalike":
            lookalikes.append(case.case_id)
            if result.is_emergency:
                false_alarms.append(label)
    return missed, false_alarms, lookalikes


def test_the_case_set_is_large_enough() -> None:
    assert len(ALL_CASES) >= 300
    assert len(REAL) >= 100
    assert all(not c.text for c in REAL), "real cases keep their text in ../shared"
    assert all(c.text for c in WRITTEN)
    assert len({c.case_id for c in ALL_CASES}) == len(ALL_CASES)
    assert len({c.message_id for c in REAL}) == len(REAL)
    for case in ALL_CASES:
        assert case.kind in {"emergency", "urgent", "lookalike", "ordinary"}, case.case_id
        is_emergency = case.kind == "emergency"
        assert (case.expected_level is UrgencyLevel.EMERGENCY) == is_emergency, case.case_id
        assert (case.expected_line is not None) == is_emergency, case.case_id


def test_written_cases() -> None:
    missed, false_alarms, lookalikes = _failures((c, c.text) for c in WRITTEN)
    assert not missed, "emergencies or urgent cases missed:\n" + "\n".join(missed)
    rate = len(false_alarms) / len(lookalikes)
    assert rate <= MAX_FALSE_ALARM_RATE, (
        f"false-alarm rate {rate:.1%} on {len(lookalikes)} look-alikes:\n" + "\n".join(false_alarms)
    )


def test_real_messages(shared_data: Path) -> None:
    texts = _real_texts(shared_data / "appeals", {c.message_id for c in REAL})
    absent = sorted(c.message_id for c in REAL if c.message_id not in texts)
    assert not absent, f"message ids not found in appeals/train.csv or test.csv: {absent}"
    missed, false_alarms, lookalikes = _failures((c, texts[c.message_id]) for c in REAL)
    assert not missed, "emergencies or urgent cases missed:\n" + "\n".join(missed)
    rate = len(false_alarms) / len(lookalikes)
    assert rate <= MAX_FALSE_ALARM_RATE, (
        f"false-alarm rate {rate:.1%} on {len(lookalikes)} look-alikes:\n" + "\n".join(false_alarms)
    )


def test_every_rule_is_exercised_by_a_written_case() -> None:
    fired = {rule_id for c in WRITTEN for rule_id in assess(c.text).rule_ids}
    assert set(load_rules().rule_ids) <= fired, set(load_rules().rule_ids) - fired


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("楼下着火了，快来人", "119"),
        ("闻到很大的煤气味", "gas"),
        ("有人晕倒了，叫不醒", "120"),
        ("有人拿刀在街上砍人", "110"),
        ("路口两辆车追尾了", "122"),
        ("电梯里困了一个老人", "119"),
    ],
    ids=["fire", "gas", "injured", "violence", "traffic", "lift"],
)
def test_each_line(text: str, line: str) -> None:
    result = assess(text)
    assert result.level is UrgencyLevel.EMERGENCY
    assert result.emergency_line == line


@pytest.mark.parametrize(
    "text",
    [
        "上个月着火，到现在外墙还是黑的",
        "下周小区搞消防演练",
        "燃气费太贵了",
        "煤气费账单不对",
        "火灾保险怎么理赔",
        "燃气报警器老是误报",
        "电动车在楼道充电会不会着火",
        "如果发生火灾，老人怎么逃生",
        "请问是否有燃气泄漏检测的规定",
        "一旦起火后果不堪设想",
    ],
    ids=[
        "past",
        "drill",
        "gas-bill",
        "coal-gas-bill",
        "insurance",
        "alarm-device",
        "would-it",
        "if",
        "whether",
        "once",
    ],
)
def test_negation_windows(text: str) -> None:
    result = assess(text)
    assert not result.is_emergency, result.explain()


def test_a_cancelled_match_is_shown_with_what_cancelled_it() -> None:
    result = assess("上个月小区着火了")
    assert result.level is UrgencyLevel.ORDINARY
    [cancelled] = [c for c in result.cancelled if c.rule_id == "E_FIRE"]
    assert cancelled.by == "X_PAST"
    assert cancelled.cue == "上个月"


def test_ongoing_wins_over_an_earlier_past_event() -> None:
    assert not assess("上个月着火了").is_emergency
    assert assess("上个月装的电表，现在又着火了").emergency_line == "119"


def test_the_clause_after_a_match_does_not_cancel_it() -> None:
    # "如果" belongs to the next clause: the fire is real.
    assert assess("楼下着火了，如果再不来人就烧上来了").emergency_line == "119"


def test_full_width_and_whitespace() -> None:
    assert normalise("ＸＸ路１２号，着 火\t了！\r\n") == "xx路12号,着火了!\n"
    assert assess("楼 上 着 火 了 ！！").emergency_line == "119"
    assert assess("ＸＸ小区５栋燃气泄漏").emergency_line == "gas"
    assert assess("\u200b我家着\u3000火了").emergency_line == "119"


def test_several_lines_are_listed_in_calling_order() -> None:
    result = assess("液化气罐漏气着火了，有人被烧伤")
    assert result.emergency_lines == ("119", "120", "gas")
    assert result.emergency_line == "119"


def test_item_default_raises_the_level() -> None:
    text = "小区门口垃圾没人清理"
    assert assess(text).level is UrgencyLevel.ORDINARY
    assert assess(text, item_default="fast").level is UrgencyLevel.FAST
    raised = assess(text, item_default="urgent")
    assert raised.level is UrgencyLevel.URGENT
    assert raised.item_default is UrgencyLevel.URGENT
    assert "事项本身的默认紧急程度：紧急" in raised.explain()


def test_item_default_never_lowers_the_level() -> None:
    result = assess("家里停水了", item_default="ordinary")
    assert result.level is UrgencyLevel.FAST
    emergency = assess("厨房着火了", item_default="fast")
    assert emergency.level is UrgencyLevel.EMERGENCY
    assert emergency.emergency_line == "119"


def test_item_default_must_be_a_level() -> None:
    with pytest.raises(ValueError, match="item_default"):
        assess("家里停水了", item_default="very urgent")


def test_explanation_lists_the_matched_rules_and_phrases() -> None:
    result = assess("小区里自来水管爆了，水哗哗往外冒")
    assert result.level is UrgencyLevel.URGENT
    assert result.emergency_line is None
    assert "U_WATER_MAIN" in result.rule_ids
    [match] = [m for m in result.matched if m.rule_id == "U_WATER_MAIN"]
    assert match.phrase in normalise("小区里自来水管爆了")
    assert any("→ 紧急" in line and "U_WATER_MAIN" in line for line in result.explain())
    assert result.rules_version == load_rules().version


def test_the_lines_are_the_ones_a_ticket_can_be_handed_over_to() -> None:
    assert set(LINE_PRIORITY) == set(EMERGENCY_LINES)
    for result in (assess(c.text) for c in WRITTEN if c.kind == "emergency"):
        assert set(result.emergency_lines) <= set(EMERGENCY_LINES)


def _one_rule(line: str) -> str:
    return HEADER + line + "\n"


def test_rules_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.csv"
    path.write_text(
        _one_rule("X_PAST,exclude,,去年,,,near,past")
        + "E_TEST,emergency,119,冒火星,,@X_PAST,,sparks\n"
        + "F_TEST,fast,,没热水,,,,no hot water\n",
        encoding="utf-8",
    )
    rules = load_rules(path)
    assert rules.rule_ids == ("E_TEST", "F_TEST")
    assert rules.assess("插座冒火星").emergency_line == "119"
    assert not rules.assess("去年插座冒火星").is_emergency
    assert rules.assess("没热水").level is UrgencyLevel.FAST
    assert assess("插座冒火星", rules=rules).emergency_line == "119"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("E_X,emergency,,着火,,,,no line", "needs a line"),
        ("E_X,emergency,999,着火,,,,bad line", "needs a line"),
        ("F_X,fast,119,停水,,,,line on fast", "only an emergency"),
        ("F_X,fast,,停水(,,,,bad regex", "not a valid regular expression"),
        ("F_X,fast,,停水,,@X_NONE,,unknown set", "no exclude row"),
        ("F_X,sometimes,,停水,,,,bad level", "level must be"),
        ("f_x,fast,,停水,,,,bad id", "rule_id"),
        ("F_X,fast,,,,,,empty", "pattern is empty"),
        ("F_X,fast,,停水,,,text,scope on a rule", "scope belongs"),
    ],
    ids=[
        "no-line",
        "unknown-line",
        "line-on-fast",
        "bad-regex",
        "unknown-set",
        "bad-level",
        "bad-id",
        "empty",
        "scope",
    ],
)
def test_a_broken_rule_list_is_refused_with_its_row(row: str, message: str) -> None:
    with pytest.raises(RuleError, match=message) as excinfo:
        rules_from_csv(_one_rule(row))
    assert "row 2" in str(excinfo.value)


def test_the_shipped_list_loads_once() -> None:
    assert load_rules() is load_rules()
    assert isinstance(assess("你好"), UrgencyAssessment)
    assert urgency.WINDOW_BEFORE > urgency.WINDOW_AFTER
