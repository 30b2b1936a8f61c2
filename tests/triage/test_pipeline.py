"""The whole chain with a tiny real model trained inside the test: classifier and item
ranker saved as a versioned artefact, loaded by the engine, used at intake to route."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.core.config import Settings
from minyi.triage import artefacts
from minyi.triage import service as triage
from minyi.triage.classifier import train_classifier
from minyi.triage.domain import Thresholds
from minyi.triage.engine import ModelEngine, NoModel, get_engine
from minyi.triage.items import CatalogueRow, ItemRanker
from tests.factories import make_ticket, make_world
from tests.triage.tiny_data import tiny_set

NOISE_TEXTS = [
    "关于夜间施工的问题\n工地晚上打桩噪音太大，吵得睡不着",
    "工地噪音扰民\n建筑工地深夜施工，机器轰鸣，影响休息",
    "夜里打桩\n附近工地夜里还在打桩施工，噪音很大",
]


def _model(noise_path: str) -> artefacts.TriageModel:
    texts, labels = tiny_set()
    texts = [*texts, *NOISE_TEXTS * 5]
    labels = [*labels, *["环境保护"] * len(NOISE_TEXTS) * 5]
    classifier = train_classifier(texts, labels, seed=0)
    rows = [
        CatalogueRow(
            noise_path,
            noise_path.rsplit("/", 1)[-1],
            "建筑施工噪声",
            "噪声污染",
            "环境",
            "夜间施工、打桩等建筑施工噪声",
        ),
        CatalogueRow(
            "T4/T402/T40202",
            "T40202",
            "社会生活噪声",
            "噪声污染",
            "环境",
            "广场舞、商铺喇叭等社会生活噪声",
        ),
        CatalogueRow(
            "T5/T501/T50101", "T50101", "公交线路", "公共交通", "交通", "公交线路、站点设置"
        ),
    ]
    ranker = ItemRanker.build(catalogue_rows=rows, examples=[(t, noise_path) for t in NOISE_TEXTS])
    version = artefacts.new_version("0" * 64, datetime(2026, 11, 2, tzinfo=UTC))
    return artefacts.TriageModel(version=version, classifier=classifier, ranker=ranker)


def test_a_trained_model_routes_an_appeal_and_explains_itself(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    world = make_world(session)
    saved = artefacts.save_model(_model(world.noise.path), tmp_path / "models")
    artefacts.clear_cache()
    engine = get_engine(Settings(models_dir=tmp_path / "models"))
    assert isinstance(engine, ModelEngine) and engine.version == saved.name

    ticket = make_ticket(session, world, text="工地晚上十一点还在打桩施工，噪音吵得孩子睡不着")
    ticket.item_id = None
    decision = triage.triage_ticket(
        session, ticket=ticket, engine=engine, clock=clock, thresholds=Thresholds(auto_item=0.3)
    )
    explained = decision.explanation
    assert decision.model_version == saved.name
    assert decision.label == "环境保护" and explained["label"]["features"]
    assert decision.item_path == world.noise.path
    assert explained["items"][0]["matched"]
    assert decision.outcome == "auto_dispatch"
    assert ticket.status == "dispatched" and ticket.lead_unit_id == world.bureau.id


def test_the_same_model_without_a_measured_threshold_leaves_the_appeal_to_a_person(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    world = make_world(session)
    model = _model(world.noise.path)
    engine = ModelEngine(
        classifier=model.classifier, ranker=replace_threshold(model.ranker), version="v", meta={}
    )
    assert engine.auto_threshold is None
    ticket = make_ticket(session, world)
    ticket.item_id = None
    decision = triage.triage_ticket(session, ticket=ticket, engine=engine, clock=clock)
    assert decision.outcome == "queue" and ticket.status == "received"
    assert decision.item_path == world.noise.path  # still suggested to the dispatcher


def test_no_trained_model_means_no_engine(tmp_path: Path) -> None:
    artefacts.clear_cache()
    assert isinstance(get_engine(Settings(models_dir=tmp_path / "none")), NoModel)


def replace_threshold(ranker: ItemRanker) -> ItemRanker:
    ranker.auto_threshold = None
    return ranker
