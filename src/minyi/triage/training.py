"""Training the triage model from the real messages (`minyi model train`).

The labelled history is `appeals/train.csv`: 4,128 rows with the raw body and 1,931 with only
a segmented, stop-word-stripped text (`seg_text`, the title's words first). For those the
words are joined back without spaces and the title's words dropped from the front, which is
the closest to a raw body the file allows. Rows whose normalised title and body repeat an
earlier row's are fitted once. Dispatchers' confirmations and corrections (`triage_example`)
are added to both the classifier (when they carry the first-level label) and the item
ranker.
"""

from __future__ import annotations

import csv
import hashlib
import platform
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from minyi.triage.artefacts import TriageModel, new_version
from minyi.triage.classifier import TextClassifier, TrainingReport, appeal_text, fit_classifier
from minyi.triage.normalise import normalise

APPEALS = "appeals"
TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"
UNLABELLED_FILES = ("test_phase_unlabeled.csv", "hotspot_messages.csv")
# First-level auto-dispatch: the share kept must be at least this accurate in CV.
TARGET_ACCURACY = 0.97

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class LabelledAppeal:
    id: str
    text: str  # appeal_text(title, body)
    label: str
    raw_body: bool = True


@dataclass(frozen=True)
class Example:
    """A dispatcher's confirmed or corrected appeal (`triage_example`)."""

    text: str
    item_path: str
    label: str | None = None


def read_labelled(path: Path) -> list[LabelledAppeal]:
    """The rows of a labelled CSV (`train.csv`, `test.csv`), bodies rebuilt from `seg_text`
    where the raw body is missing."""
    out: list[LabelledAppeal] = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            title, body = row.get("title") or "", row.get("body") or ""
            raw = bool(body.strip())
            if not raw and row.get("seg_text"):
                body = "".join(row["seg_text"].split())
                squashed = "".join(title.split())
                body = body.removeprefix(squashed)
            if not row.get("label"):
                continue
            out.append(
                LabelledAppeal(row.get("id") or "", appeal_text(title, body), row["label"], raw)
            )
    return out


def read_unlabelled(shared_data: Path) -> list[str]:
    """The contest's unlabelled messages (留言主题/留言详情), for the IDF statistics and
    self-training."""
    texts: list[str] = []
    for name in UNLABELLED_FILES:
        path = shared_data / APPEALS / name
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                texts.append(appeal_text(row.get("留言主题") or "", row.get("留言详情") or ""))
    return texts


def dedupe(rows: Sequence[LabelledAppeal]) -> list[LabelledAppeal]:
    """The first of each group of rows with the same normalised text and label."""
    seen: set[tuple[str, str]] = set()
    out: list[LabelledAppeal] = []
    for r in rows:
        key = (normalise(r.text), r.label)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def files_sha256(paths: Iterable[Path], extra: Iterable[str] = ()) -> str:
    """One hash over the training files' bytes (and any extra rows): the model's data id."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    for line in extra:
        h.update(line.encode())
    return h.hexdigest()


def auto_threshold(
    confidence: np.ndarray[Any, Any], correct: np.ndarray[Any, Any], target: float
) -> float | None:
    """The lowest confidence whose kept share (confidence ≥ it) is at least `target`
    accurate; None when not even the most confident prediction alone is."""
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    accuracy = hits / np.arange(1, len(order) + 1)
    ok = np.nonzero(accuracy >= target)[0]
    if not len(ok):
        return None
    return float(confidence[order[ok[-1]]])


@dataclass
class TrainedClassifier:
    classifier: TextClassifier
    report: TrainingReport
    threshold: float | None
    sizes: dict[str, int] = field(default_factory=dict)


def train_first_level(
    train_rows: Sequence[LabelledAppeal],
    *,
    examples: Sequence[Example] = (),
    unlabelled: Sequence[str] = (),
    seed: int = 0,
    progress: Progress = _quiet,
) -> TrainedClassifier:
    """The classifier and its auto-dispatch threshold, both from the training rows only."""
    rows = dedupe(
        [*train_rows, *(LabelledAppeal("", e.text, e.label) for e in examples if e.label)]
    )
    progress(f"训练一级分类 / fitting the first-level classifier on {len(rows)} texts")
    classifier, report = fit_classifier(
        [r.text for r in rows], [r.label for r in rows], unlabeled=unlabelled, seed=seed
    )
    proba = report.oof_probabilities
    threshold = auto_threshold(proba.max(axis=1), proba.argmax(axis=1) == report.y, TARGET_ACCURACY)
    sizes = {"train_rows": len(train_rows), "fitted_rows": len(rows), "unlabelled": len(unlabelled)}
    return TrainedClassifier(classifier, report, threshold, sizes)


def read_examples(session: Any) -> list[Example]:
    """Every stored confirmation or correction, oldest first."""
    from sqlalchemy import select

    from minyi.triage.models import TriageExample

    rows = session.scalars(
        select(TriageExample).order_by(TriageExample.created_at, TriageExample.id)
    )
    return [Example(r.text, r.item_path, r.label) for r in rows]


def build_ranker(shared_data: Path, classifier: TextClassifier, examples: Sequence[Example]) -> Any:
    """The item ranker over the DB44 catalogue, taught by the stored examples."""
    from minyi.triage.items import ItemRanker, load_catalogue_rows

    def label_probs_of(texts: Sequence[str]) -> list[Mapping[str, float]]:
        return [p.probabilities for p in classifier.predict(texts)]

    return ItemRanker.build(
        catalogue_rows=load_catalogue_rows(shared_data),
        examples=[(e.text, e.item_path) for e in examples],
        label_probs_of=label_probs_of,
    )


def library_versions() -> dict[str, str]:
    import joblib
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "joblib": joblib.__version__,
    }


def train_model(
    shared_data: Path,
    *,
    examples: Sequence[Example] = (),
    with_ranker: bool = True,
    now: datetime | None = None,
    progress: Progress = _quiet,
) -> TriageModel:
    """A new model version from `train.csv`, the unlabelled messages (IDF statistics) and
    the stored examples; not saved (see `artefacts.save_model`)."""
    train_path = shared_data / APPEALS / TRAIN_FILE
    rows = read_labelled(train_path)
    progress(f"读取 / read {len(rows)} labelled rows from {train_path}")
    trained = train_first_level(rows, examples=examples, progress=progress)
    ranker = None
    ranker_note = "no item ranker"
    if with_ranker:
        progress("建立事项排序 / building the item ranker from the DB44 catalogue")
        ranker = build_ranker(shared_data, trained.classifier, examples)
        ranker_note = f"{len(examples)} examples"
    data_hash = files_sha256(
        [train_path], (f"{e.text}\t{e.item_path}\t{e.label}" for e in examples)
    )
    created = now or datetime.now(UTC)
    version = new_version(data_hash, created)
    trained.classifier.version = version
    report = trained.report
    proba = report.oof_probabilities
    correct = proba.argmax(axis=1) == report.y
    kept = proba.max(axis=1) >= (trained.threshold if trained.threshold is not None else 2.0)
    meta: dict[str, Any] = {
        "version": version,
        "created_at": created.isoformat(),
        "training_data_sha256": data_hash,
        "training_files": [f"{APPEALS}/{TRAIN_FILE}"],
        "labels": list(trained.classifier.labels),
        "sizes": {
            **trained.sizes,
            "examples": len(examples),
            "text_ngrams": len(trained.classifier.text_ngrams),
            "title_ngrams": len(trained.classifier.title_ngrams),
        },
        "metrics": {
            "source": "5-fold out-of-fold predictions on train.csv",
            "cv_accuracy": round(float(correct.mean()), 4),
            "cv_macro_f1": round(_macro_f1(report.y, proba.argmax(axis=1)), 4),
            "calibration": report.calibration,
            "calibration_ece": {k: round(v, 4) for k, v in report.calibration_ece.items()},
            "auto_threshold": trained.threshold,
            "cv_auto_share": round(float(kept.mean()), 4),
            "cv_auto_accuracy": round(float(correct[kept].mean()), 4) if kept.any() else None,
        },
        "auto_label_threshold": trained.threshold,
        "auto_item_threshold": getattr(ranker, "auto_threshold", None),
        "ranker": ranker_note,
        "libraries": library_versions(),
    }
    return TriageModel(version=version, classifier=trained.classifier, ranker=ranker, meta=meta)


def _macro_f1(y: np.ndarray[Any, Any], pred: np.ndarray[Any, Any]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, average="macro"))
