"""Drafting from past replies: templates are found, receipts and personal cases are marked."""

from __future__ import annotations

from pathlib import Path

from minyi.triage.knowledge.drafts import (
    ReplyRow,
    clean_reply,
    propose,
    read_replies,
    split_by_time,
)

POLICY = "根据《A市居住证实施办法》，持身份证和租房合同到派出所申领，15个工作日内发证。"


def _row(n: int, subject: str, reply: str, when: str = "2019-01-01 10:00:00") -> ReplyRow:
    return ReplyRow(str(n), subject, when, reply, when)


def test_a_template_sent_to_several_messages_becomes_one_draft() -> None:
    rows = [
        _row(1, "居住证怎么办理", f"网友“UU0081234”您好！{POLICY}2019年3月1日"),
        _row(2, "办理居住证要什么材料", f"网友“UU0085678”您好！{POLICY}2019年5月8日"),
        _row(3, "小区路灯不亮", "经查，该路段路灯线路老化，已于本周更换。"),
    ]
    [draft] = propose(rows)
    assert draft.answer == POLICY
    assert set(draft.questions) == {"居住证怎么办理", "办理居住证要什么材料"}
    assert draft.message_ids == ("1", "2")
    assert (draft.privacy_flags, draft.acknowledgement) == ((), False)


def test_receipts_and_personal_cases_are_marked() -> None:
    receipt = "您的留言已收悉，关于您反映的问题，已转市教育局调查处理。"
    case = "经核实，信访人王某于2003年购得该宅基地，不符合补偿条件。"
    rows = [
        _row(1, "学校乱收费", receipt),
        _row(2, "补课问题", receipt),
        _row(3, "宅基地补偿", case),
        _row(4, "宅基地补偿问题", case),
    ]
    drafts = {d.answer: d for d in propose(rows)}
    assert drafts[receipt].acknowledgement
    assert set(drafts[case].privacy_flags) == {"person_name", "one_case"}


def test_the_greeting_and_signature_date_are_stripped() -> None:
    assert clean_reply("网友：您好！婚假3天。 2016年12月22日") == "婚假3天。"


def test_the_time_split_keeps_the_earlier_replies_first() -> None:
    rows = [_row(i, "问", "答", f"2019-0{i}-01 00:00:00") for i in range(9, 0, -1)]
    earlier, later = split_by_time(rows, 0.7)
    assert [r.message_id for r in earlier] == ["1", "2", "3", "4", "5", "6"]
    assert [r.message_id for r in later] == ["7", "8", "9"]


def test_replies_csv_columns_are_read(tmp_path: Path) -> None:
    path = tmp_path / "replies.csv"
    path.write_text(
        "留言编号,留言用户,留言主题,留言时间,留言详情,答复意见,答复时间\n"
        "7,U1,居住证怎么办理,2019-01-01 08:00:00,正文,请到派出所办理,2019-01-05 09:00:00\n",
        encoding="utf-8",
    )
    [row] = read_replies(path)
    assert (row.message_id, row.subject, row.reply, row.time) == (
        "7",
        "居住证怎么办理",
        "请到派出所办理",
        "2019-01-05 09:00:00",
    )
