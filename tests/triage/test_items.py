"""The fine-grained item ranker on a tiny catalogue written here (no real data)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from minyi.triage.items import (
    CatalogueRow,
    ItemCandidate,
    ItemRanker,
    choose_threshold,
    load_catalogue_rows,
    mine_keywords,
)
from minyi.triage.items_eval import LabelledItem, expected_calibration_error, item_figures


def row(path: str, name: str, parent: str, top: str, remark: str) -> CatalogueRow:
    return CatalogueRow(
        path=path,
        code=path.rsplit("/", 1)[1],
        name=name,
        parent_name=parent,
        top_name=top,
        remark=remark,
    )


ROWS = [
    row(
        "03/0305/030501", "路灯", "市政设施", "城乡建设", "城市道路照明、路灯损坏、路灯不亮相关诉求"
    ),
    row("03/0306/030604", "公共秩序", "物业管理", "城乡建设", "小区公共区域秩序、楼道堆物相关诉求"),
    row("03/0306/030605", "停车管理", "物业管理", "城乡建设", "小区停车收费、停车位相关诉求"),
    row(
        "04/0402/040201",
        "噪声污染",
        "污染防治",
        "自然资源与环境保护",
        "工业噪声、交通噪声、建筑施工噪声、社会生活噪声等噪声污染相关诉求",
    ),
    row(
        "04/0402/040202",
        "大气污染",
        "污染防治",
        "自然资源与环境保护",
        "工业废气、餐饮油烟、扬尘、异味等大气污染相关诉求",
    ),
    row(
        "08/0801/080101",
        "养老保险",
        "社会保险",
        "人力资源社会保障",
        "养老保险缴费、待遇、转移接续相关诉求",
    ),
    row("08/0805/080508", "拖欠工资", "劳动纠纷", "人力资源社会保障", "拖欠工资、克扣工资相关诉求"),
    row(
        "08/0805/080599",
        "其他劳动纠纷",
        "劳动纠纷",
        "人力资源社会保障",
        "未列入上述内容的其他劳动纠纷相关诉求",
    ),
]
PATHS = {r.path for r in ROWS}


@pytest.fixture(scope="module")
def ranker() -> ItemRanker:
    return ItemRanker.build(catalogue_rows=ROWS)


def test_the_item_whose_definition_names_the_thing_comes_first(ranker: ItemRanker) -> None:
    # given an appeal about cooking fumes, which only the air-pollution remark lists
    text = "小区楼下饭店的油烟太大了，熏得我们家没法开窗"

    # when
    top = ranker.rank(text, {"环境保护": 0.9, "城乡建设": 0.1})

    # then
    assert top[0].path == "04/0402/040202"
    assert "油烟" in top[0].matched


def test_wage_arrears_go_to_the_wage_item_not_to_the_other_item(ranker: ItemRanker) -> None:
    top = ranker.rank("公司拖欠工资三个月了，老板一直不给", {"劳动和社会保障": 1.0})

    assert top[0].path == "08/0805/080508"
    assert "拖欠工资" in top[0].matched


def test_the_first_level_label_steers_between_subtrees(ranker: ItemRanker) -> None:
    # an appeal that names two things: the classifier's label decides which subtree leads
    text = "晚上路灯下面噪声很大"

    as_environment = ranker.rank(text, {"环境保护": 0.95, "城乡建设": 0.05})
    as_construction = ranker.rank(text, {"城乡建设": 0.95, "环境保护": 0.05})

    assert as_environment[0].path == "04/0402/040201"
    assert as_construction[0].path == "03/0305/030501"


def test_confirmed_examples_move_a_confusable_appeal_to_their_item() -> None:
    # given square dancing music in an estate: the catalogue's words do not point to the
    # property company's public-order item, but this city's dispatchers send it there
    text = "小区广场舞音响太吵，每天晚上跳到十点"
    probs = {"城乡建设": 0.5, "环境保护": 0.5}
    before = ItemRanker.build(catalogue_rows=ROWS).rank(text, probs, k=len(ROWS))
    examples = [
        ("广场舞音响声音太大，物业不管", "03/0306/030604"),
        ("小区里面跳广场舞的音响吵得孩子没法写作业", "03/0306/030604"),
        ("每天晚上广场舞吵到十点，请物业管理", "03/0306/030604"),
    ]

    # when
    after = ItemRanker.build(catalogue_rows=ROWS, examples=examples).rank(text, probs)

    # then
    score_before = {c.path: c.score for c in before}["03/0306/030604"]
    assert before[0].path != "03/0306/030604"
    assert after[0].path == "03/0306/030604"
    assert after[0].score > score_before


def test_scores_are_probabilities_in_order(ranker: ItemRanker) -> None:
    top = ranker.rank("单位没有给我交养老保险", {"劳动和社会保障": 0.7, "城乡建设": 0.3}, k=5)

    assert len(top) == 5
    assert len({c.path for c in top}) == 5
    assert all(0.0 <= c.score <= 1.0 for c in top)
    assert [c.score for c in top] == sorted((c.score for c in top), reverse=True)
    assert all(isinstance(c, ItemCandidate) and c.path in PATHS for c in top)


def test_matched_words_come_from_the_appeal(ranker: ItemRanker) -> None:
    text = "我们小区的停车位收费太贵"

    for candidate in ranker.rank(text, {"城乡建设": 1.0}):
        assert all(word in text for word in candidate.matched), candidate


def test_an_appeal_with_no_known_label_is_still_ranked(ranker: ItemRanker) -> None:
    top = ranker.rank("路灯坏了好几天了", {"某个新标签": 1.0})

    assert top[0].path == "03/0305/030501"


def test_keywords_come_from_the_name_and_the_listed_parts_of_the_remark() -> None:
    keywords = mine_keywords(ROWS[4])

    assert {"大气污染", "工业废气", "餐饮油烟", "扬尘", "异味"} <= set(keywords)
    assert not any("诉求" in k for k in keywords)


def test_with_enough_examples_the_scores_are_calibrated_on_them() -> None:
    # given 40 confirmations, ranked one by one with the rest (the left-out ranking)
    examples = [(f"路灯不亮第{i}天了，晚上走路很黑", "03/0305/030501") for i in range(20)] + [
        (f"工厂废气第{i}次排放，味道很大", "04/0402/040202") for i in range(20)
    ]

    ranker = ItemRanker.build(
        catalogue_rows=ROWS,
        examples=examples,
        label_probs_of=lambda texts: [{"城乡建设": 0.5, "环境保护": 0.5} for _ in texts],
    )

    # then the ranker has a Platt map, and on these easy cases a threshold it may act on
    assert ranker.platt is not None
    assert ranker.auto_threshold is not None
    top = ranker.rank("路灯又不亮了", {"城乡建设": 1.0})
    assert top[0].path == "03/0305/030501"
    assert top[0].score >= ranker.auto_threshold


def test_threshold_is_the_lowest_score_still_precise_enough() -> None:
    # 12 right above 0.8, then a wrong one at 0.7, then right ones below
    scored = [(0.9 - i * 0.005, 1) for i in range(12)] + [(0.7, 0), (0.6, 1), (0.5, 1)]

    assert choose_threshold(scored, target=0.97, min_count=10) == pytest.approx(0.845)
    assert choose_threshold(scored, target=0.9, min_count=10) == 0.5
    assert choose_threshold(scored[:5], target=0.9, min_count=10) is None


def test_item_figures_count_the_runner_up_only_as_lenient() -> None:
    def item(path: str, runner_up: str | None) -> LabelledItem:
        return LabelledItem(
            id="1", path=path, sure=runner_up is None, runner_up=runner_up, text="", time=""
        )

    def cand(path: str, score: float) -> ItemCandidate:
        return ItemCandidate(path=path, code=path[-6:], name="", score=score, matched=[])

    items = [item("03/0305/030501", None), item("04/0402/040201", "04/0402/040202")]
    ranked = [
        [cand("03/0305/030501", 0.95)],
        [cand("04/0402/040202", 0.9), cand("04/0402/040201", 0.1)],
    ]

    figures = item_figures(items, ranked, threshold=0.92)

    assert figures["all"]["top1_strict"] == 0.5
    assert figures["all"]["top1_lenient"] == 1.0
    assert figures["all"]["top5_strict"] == 1.0
    assert figures["sure"]["n"] == 1
    assert figures["all"]["auto"] == {
        "count": 1,
        "share": 0.5,
        "precision_strict": 1.0,
        "precision_lenient": 1.0,
    }


def test_catalogue_rows_keep_repeated_codes_apart_and_name_the_nameless(tmp_path: Path) -> None:
    # given the standard's columns, with a nameless row and 090499 printed under two parents
    columns = [
        "node_id",
        "level_1_code",
        "level_1_name",
        "level_2_code",
        "level_2_name",
        "level_3_code",
        "level_3_name",
        "remark",
        "source_pdf_page",
        "source_anomaly",
    ]
    (tmp_path / "catalogue").mkdir()
    with (tmp_path / "catalogue" / "db44t2479-2024-appendix-a.csv").open(
        "w", encoding="utf-8", newline=""
    ) as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerow(
            [
                "x:0106",
                "01",
                "科教文体",
                "0106",
                "新闻出版",
                "010600",
                "",
                "新闻出版业生产、经营、管理相关诉求",
                "9",
                "",
            ]
        )
        for parent, pname, name in (
            ("0904", "生活服务", "其他生活服务"),
            ("0905", "民族宗教", "其他民族宗教"),
        ):
            writer.writerow(
                [
                    f"x:{parent}",
                    "09",
                    "民政社区",
                    parent,
                    pname,
                    "090499",
                    name,
                    f"未列入上述内容的其他{pname}相关诉求",
                    "21",
                    "duplicate_printed_code_090499",
                ]
            )

    # when
    rows = load_catalogue_rows(tmp_path)

    # then
    assert [r.path for r in rows] == ["01/0106/010600", "09/0904/090499", "09/0905/090499"]
    assert rows[0].name == "新闻出版" and rows[0].parent_name == "新闻出版"
    assert rows[0].remark == "新闻出版业生产、经营、管理相关诉求"
    assert [r.code for r in rows[1:]] == ["090499", "090499"]
    assert [r.name for r in rows[1:]] == ["其他生活服务", "其他民族宗教"]
    assert rows[2].top_name == "民政社区"
    # and a ranker keeps both 090499 items apart
    ranker = ItemRanker.build(catalogue_rows=rows)
    top = ranker.rank("关于宗教活动场所的问题", {"民政": 1.0}, k=3)
    assert {c.path for c in top} == {r.path for r in rows}


def test_calibration_error_is_the_gap_between_confidence_and_accuracy() -> None:
    # scores of 0.9 right 9 times in 10 are calibrated; scores of 0.9 always wrong are not
    calibrated = [(0.9, True)] * 9 + [(0.9, False)]
    overconfident = [(0.9, False)] * 10

    assert expected_calibration_error(calibrated) == pytest.approx(0.0)
    assert expected_calibration_error(overconfident) == pytest.approx(0.9)
    assert expected_calibration_error([*calibrated, *overconfident]) == pytest.approx(0.45)


def test_a_saved_ranker_ranks_the_same_after_loading(ranker: ItemRanker) -> None:
    # the trained model is stored as an artefact (joblib, i.e. pickle) and loaded per process
    import pickle

    text, probs = "小区楼下饭店的油烟太大了", {"环境保护": 1.0}

    loaded = pickle.loads(pickle.dumps(ranker))

    assert loaded.rank(text, probs) == ranker.rank(text, probs)
