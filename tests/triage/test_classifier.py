"""The first-level classifier and its versioned store, on a tiny set made in the test."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from minyi.core.config import Settings
from minyi.triage import artefacts
from minyi.triage.artefacts import TriageModel, get_model, load_latest, save_model
from minyi.triage.classifier import (
    CharNgrams,
    TextClassifier,
    appeal_text,
    expected_calibration_error,
    train_classifier,
)
from minyi.triage.training import auto_threshold
from tests.triage.tiny_data import tiny_set


@pytest.fixture(scope="module")
def classifier() -> TextClassifier:
    texts, labels = tiny_set()
    return train_classifier(texts, labels)


def test_predicts_the_obvious_label_with_probabilities(classifier: TextClassifier) -> None:
    # given appeals that use only one label's words
    texts = [
        appeal_text("公交站台太远", "公交车站离小区太远，司机不停站"),
        appeal_text("孩子在学校被要求补课", "学校老师要求学生周末补课并收学费"),
        appeal_text("医院挂号难", "医院门诊挂号排队，医生看病时间太短"),
    ]
    # when
    predictions = classifier.predict(texts)
    # then
    assert [p.label for p in predictions] == ["交通运输", "教育文体", "卫生计生"]
    for p in predictions:
        assert sum(p.probabilities.values()) == pytest.approx(1.0)
        assert set(p.probabilities) == set(classifier.labels)
        assert p.top3[0] == (p.label, p.confidence)
        assert [prob for _, prob in p.top3] == sorted((prob for _, prob in p.top3), reverse=True)
        assert p.confidence == max(p.probabilities.values())


def test_features_are_words_of_the_text(classifier: TextClassifier) -> None:
    text = appeal_text("孩子在学校被要求补课", "学校老师要求学生周末补课")
    (p,) = classifier.predict([text])
    assert 0 < len(p.features) <= 8
    assert all(feature in text for feature, _ in p.features)
    weights = [w for _, w in p.features]
    assert weights == sorted(weights, reverse=True) and weights[-1] > 0


def test_traditional_and_full_width_read_like_simplified(classifier: TextClassifier) -> None:
    simplified, traditional = classifier.predict(
        ["医院挂号难\n医生看病时间太短", "醫院掛號難\n醫生看病時間太短"]
    )
    assert traditional.label == simplified.label == "卫生计生"
    assert traditional.confidence == pytest.approx(simplified.confidence)


def test_empty_input_and_empty_text(classifier: TextClassifier) -> None:
    assert classifier.predict([]) == []
    (p,) = classifier.predict([""])
    assert sum(p.probabilities.values()) == pytest.approx(1.0)


def test_char_ngrams_match_scikit_learn() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = ["小区噪音扰民 夜间施工", "施工噪音\n影响休息", "学校 补课 收费", "噪音"]
    ours = CharNgrams.fit(docs, min_df=1).matrix(docs).toarray()
    sk = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    theirs = sk.fit_transform(docs).toarray()
    # scikit-learn sorts its vocabulary by string, ours by packed code points: compare
    # each document's sorted values, which do not depend on the column order.
    assert ours.shape == theirs.shape
    for a, b in zip(ours, theirs, strict=True):
        assert np.allclose(np.sort(a), np.sort(b), atol=1e-6)


def test_expected_calibration_error() -> None:
    # always 0.9 sure and right 9 times in 10: calibrated
    proba = np.tile([0.9, 0.1], (10, 1))
    y = np.array([0] * 9 + [1])
    assert expected_calibration_error(proba, y) == pytest.approx(0.0)
    # 0.9 sure and always wrong: off by 0.9
    assert expected_calibration_error(proba, np.ones(10, dtype=np.int64)) == pytest.approx(0.9)


def test_auto_threshold_keeps_the_accurate_share() -> None:
    confidence = np.array([0.99, 0.98, 0.95, 0.9, 0.8, 0.6])
    correct = np.array([True, True, True, True, False, False])
    assert auto_threshold(confidence, correct, 0.97) == 0.9
    assert auto_threshold(confidence, correct, 0.8) == 0.8
    assert auto_threshold(confidence[4:], correct[4:], 0.97) is None


def _bundle(classifier: TextClassifier, version: str) -> TriageModel:
    classifier.version = version
    return TriageModel(version=version, classifier=classifier, ranker=None, meta={"k": 1})


def test_save_and_load_keep_predictions_and_version(
    classifier: TextClassifier, tmp_path: Path
) -> None:
    texts = ["公交车站太远\n司机不停站", "医院挂号难"]
    before = classifier.predict(texts)
    version = artefacts.new_version("ab" * 32, datetime(2026, 11, 22, 2, 15, tzinfo=UTC))
    assert version == "20261122T0215-abababab"
    target = save_model(_bundle(classifier, version), tmp_path)
    assert (target / "meta.json").is_file()
    loaded = load_latest(tmp_path)
    assert loaded is not None
    assert loaded.version == loaded.classifier.version == version
    assert loaded.classifier.predict(texts) == before


def test_load_latest_without_a_model(tmp_path: Path) -> None:
    assert load_latest(tmp_path) is None
    assert load_latest(tmp_path / "missing") is None


def test_get_model_reloads_when_latest_changes(classifier: TextClassifier, tmp_path: Path) -> None:
    artefacts.clear_cache()
    settings = Settings(models_dir=tmp_path)
    assert get_model(settings) is None
    save_model(_bundle(classifier, "20261122T0215-aaaaaaaa"), tmp_path)
    first = get_model(settings)
    assert first is not None and first.version == "20261122T0215-aaaaaaaa"
    assert get_model(settings) is first  # loaded once, not per call
    save_model(_bundle(classifier, "20261122T0216-bbbbbbbb"), tmp_path)
    # the pointer may be rewritten within the file system's timestamp resolution
    os.utime(tmp_path / "latest", ns=(1, 1))
    second = get_model(settings)
    assert second is not None and second.version == "20261122T0216-bbbbbbbb"
    artefacts.clear_cache()
