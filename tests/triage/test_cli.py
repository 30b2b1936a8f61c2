"""`minyi model train|predict` through Typer's runner, on tiny data written in the test."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minyi.triage.artefacts import TriageModel, latest_version, save_model
from minyi.triage.classifier import train_classifier
from minyi.triage.cli import model_app
from tests.triage.tiny_data import tiny_set

runner = CliRunner()


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = tiny_set()
    classifier = train_classifier(texts, labels)
    classifier.version = "20261122T0215-tinytiny"
    store = tmp_path_factory.mktemp("models")
    save_model(TriageModel(classifier.version, classifier, None, {}), store)
    return store


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_predict_json_lines_with_a_bad_line(models_dir: Path) -> None:
    # given three lines, the second one broken
    stdin = "\n".join(
        [
            json.dumps({"id": "a1", "text": "公交车站太远\n司机不停站"}, ensure_ascii=False),
            "{not json",
            json.dumps({"id": "a3"}),
            json.dumps({"id": 4, "text": "医院挂号难\n医生看病时间太短"}, ensure_ascii=False),
        ]
    )
    # when
    result = runner.invoke(model_app, ["predict", "--model-dir", str(models_dir)], input=stdin)
    # then every line is answered, in order, and the good ones are classified
    assert result.exit_code == 0, result.output
    first, broken, no_text, last = _lines(result.stdout)
    assert first["id"] == "a1" and first["label"] == "交通运输"
    assert first["item"] is None and first["item_top5"] == []
    top3 = first["top3"]
    assert isinstance(top3, list) and top3[0][0] == "交通运输" and len(top3) == 3
    assert 0 < float(str(first["confidence"])) <= 1
    assert broken["id"] is None and broken["error"]["code"] == "invalid_json"  # type: ignore[index]
    assert no_text["id"] == "a3" and no_text["error"]["code"] == "missing_text"  # type: ignore[index]
    assert last["id"] == 4 and last["label"] == "卫生计生"


def test_predict_without_a_model_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(model_app, ["predict", "--model-dir", str(tmp_path)], input="")
    assert result.exit_code == 2
    assert "minyi model train" in result.output


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["id", "title", "body", "label", "time", "user", "seg_text"]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _fake_shared_data(root: Path) -> Path:
    texts, labels = tiny_set()
    rows = []
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        title, body = text.split("\n", 1)
        row = {"id": f"r{i}", "title": title, "body": body, "label": label}
        if i % 5 == 0:  # some rows carry only the segmented text, as in the real file
            row["body"], row["seg_text"] = "", " ".join([title, *body])
        rows.append(row)
    _write(root / "appeals" / "train.csv", rows)
    _write(root / "appeals" / "test.csv", rows[:6])
    return root


def test_train_on_tiny_shared_data_makes_a_version(tmp_path: Path) -> None:
    shared = _fake_shared_data(tmp_path / "shared")
    store = tmp_path / "models"
    args = ["train", "--shared-data", str(shared), "--models-dir", str(store)]
    result = runner.invoke(model_app, [*args, "--no-items", "--no-examples"])
    assert result.exit_code == 0, result.output
    version = latest_version(store)
    assert version is not None and f"version {version}" in result.stdout
    meta = json.loads((store / version / "meta.json").read_text(encoding="utf-8"))
    assert meta["labels"] == ["交通运输", "卫生计生", "教育文体"]
    assert len(meta["training_data_sha256"]) == 64
    assert meta["sizes"]["train_rows"] == 45
    # and predict uses it
    line = json.dumps({"id": 1, "text": "学校老师要求补课"}, ensure_ascii=False)
    out = runner.invoke(model_app, ["predict", "--model-dir", str(store)], input=line)
    assert _lines(out.stdout)[0]["label"] == "教育文体"


def test_train_without_the_catalogue_says_so(tmp_path: Path) -> None:
    shared = _fake_shared_data(tmp_path / "shared")
    store = tmp_path / "models"
    args = ["train", "--shared-data", str(shared), "--models-dir", str(store), "--no-examples"]
    result = runner.invoke(model_app, args)
    assert result.exit_code == 2
    assert "--no-items" in result.output
    assert latest_version(store) is None
