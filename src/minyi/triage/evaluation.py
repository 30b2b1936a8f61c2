"""`minyi model eval`: train on `train.csv` only, measure once on `test.csv`, and put the
plain baseline (TF-IDF character 1–3-grams + LinearSVC with default settings) beside it,
trained and timed in the same run, so the gain is read as a ratio and not across papers.

The auto-dispatch threshold is chosen on train.csv's out-of-fold probabilities (the lowest
confidence whose kept share is ≥ 97 % right), never on test.csv.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minyi.triage.artefacts import TriageModel, load_latest, new_version, save_model
from minyi.triage.classifier import TextClassifier, expected_calibration_error
from minyi.triage.training import (
    APPEALS,
    TARGET_ACCURACY,
    TEST_FILE,
    TRAIN_FILE,
    Progress,
    build_ranker,
    files_sha256,
    read_labelled,
    train_first_level,
)

BATCH = 256


def _quiet(_: str) -> None:
    return None


def throughput(
    predict: Callable[[Sequence[str]], Any],
    texts: Sequence[str],
    batch: int,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Messages per second through `predict` in batches of `batch`, in this process
    (one core: the code starts no threads of its own). With `clock=time.process_time` the
    seconds are this process's CPU time, which other work on a shared machine does not
    inflate."""
    start = clock()
    for i in range(0, len(texts), batch):
        predict(texts[i : i + batch])
    return len(texts) / max(clock() - start, 1e-9)


def classification_figures(
    labels: Sequence[str], y: np.ndarray[Any, Any], proba: np.ndarray[Any, Any]
) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
    from sklearn.metrics import precision_recall_fscore_support as prfs

    pred = proba.argmax(axis=1)
    top3 = np.argsort(-proba, axis=1)[:, :3]
    p, r, f, s = prfs(y, pred, labels=range(len(labels)), zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
        "top3_accuracy": round(float((top3 == y[:, None]).any(axis=1).mean()), 4),
        "ece": round(expected_calibration_error(proba, y), 4),
        "per_class": {
            lab: {
                "precision": round(float(p[k]), 4),
                "recall": round(float(r[k]), 4),
                "f1": round(float(f[k]), 4),
                "support": int(s[k]),
            }
            for k, lab in enumerate(labels)
        },
        "confusion_matrix": {
            "labels": list(labels),
            "rows_true_cols_predicted": confusion_matrix(
                y, pred, labels=range(len(labels))
            ).tolist(),
        },
    }


def baseline(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    test_texts: Sequence[str],
    test_labels: Sequence[str],
) -> dict[str, Any]:
    """The published recipe as is: raw text, TfidfVectorizer(char, 1–3) + LinearSVC()."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    start = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3)), LinearSVC(random_state=0)
    )
    model.fit(list(train_texts), list(train_labels))
    fit_s = time.perf_counter() - start
    pred = model.predict(list(test_texts))
    return {
        "model": "TfidfVectorizer(analyzer='char', ngram_range=(1, 3)) + LinearSVC()",
        "accuracy": round(float(accuracy_score(test_labels, pred)), 4),
        "macro_f1": round(float(f1_score(test_labels, pred, average="macro")), 4),
        "fit_seconds": round(fit_s, 1),
        "throughput_per_s": {
            "batch_1": round(throughput(lambda b: model.predict(list(b)), test_texts[:500], 1)),
            f"batch_{BATCH}": round(
                throughput(lambda b: model.predict(list(b)), test_texts, BATCH)
            ),
            f"cpu_time_batch_{BATCH}": round(
                throughput(lambda b: model.predict(list(b)), test_texts, BATCH, time.process_time)
            ),
        },
    }


def _storage(bundle: TriageModel) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        target = save_model(bundle, Path(tmp))
        size = sum(p.stat().st_size for p in target.iterdir())
        start = time.perf_counter()
        load_latest(Path(tmp))
        load_s = time.perf_counter() - start
    return {"model_size_mb": round(size / 1e6, 2), "load_seconds": round(load_s, 3)}


def evaluate(shared_data: Path, *, progress: Progress = _quiet) -> dict[str, Any]:
    """Every figure of issue 4 §3 for the first-level model (and the item ranker's on the
    hand-labelled sample, when the ranker is available)."""
    train_path = shared_data / APPEALS / TRAIN_FILE
    test_path = shared_data / APPEALS / TEST_FILE
    train_rows = read_labelled(train_path)
    test_rows = read_labelled(test_path)
    progress(f"train.csv {len(train_rows)} rows, test.csv {len(test_rows)} rows")
    start = time.perf_counter()
    trained = train_first_level(train_rows, progress=progress)
    fit_s = time.perf_counter() - start
    clf: TextClassifier = trained.classifier
    index = {lab: i for i, lab in enumerate(clf.labels)}
    texts = [r.text for r in test_rows]
    y = np.array([index[r.label] for r in test_rows])
    progress("在 test.csv 上评估 / measuring on test.csv")
    proba = clf.predict_proba(texts)
    figures = classification_figures(clf.labels, y, proba)
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    threshold = trained.threshold
    kept = confidence >= (threshold if threshold is not None else 2.0)
    oof = trained.report.oof_probabilities
    figures["auto_dispatch"] = {
        "threshold": None if threshold is None else round(threshold, 4),
        "chosen_by": f"5-fold CV on train.csv: lowest confidence with kept accuracy "
        f">= {TARGET_ACCURACY}",
        "cv_share": round(float((oof.max(axis=1) >= (threshold or 2.0)).mean()), 4),
        "share": round(float(kept.mean()), 4),
        "accuracy": round(float(correct[kept].mean()), 4) if kept.any() else None,
    }
    figures["calibration"] = {
        "method": trained.report.calibration,
        "cv_ece_by_method": {k: round(v, 4) for k, v in trained.report.calibration_ece.items()},
        "test_ece": figures["ece"],
        "bins": 15,
    }
    progress("测速 / timing")
    figures["throughput_per_s"] = {
        "batch_1": round(throughput(clf.predict, texts, 1)),
        f"batch_{BATCH}": round(throughput(clf.predict, texts, BATCH)),
        "cpu_time_batch_1": round(throughput(clf.predict, texts, 1, time.process_time)),
        f"cpu_time_batch_{BATCH}": round(throughput(clf.predict, texts, BATCH, time.process_time)),
        "cores": 1,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    figures["fit_seconds"] = round(fit_s, 1)
    ranker = None
    items: dict[str, Any] | None = None
    try:
        ranker = build_ranker(shared_data, clf, [])
    except Exception as exc:  # the item ranker is optional for first-level figures
        items = {"error": f"{type(exc).__name__}: {exc}"}
    version = new_version(files_sha256([train_path]), _now())
    clf.version = version
    bundle = TriageModel(version=version, classifier=clf, ranker=ranker, meta={})
    figures.update(_storage(bundle))
    if ranker is not None:
        progress("事项评估 / item figures on the hand-labelled sample")
        try:
            from minyi.triage.items import evaluate_items

            items = evaluate_items(bundle, shared_data)
        except Exception as exc:
            items = {"error": f"{type(exc).__name__}: {exc}"}
    if items is not None:
        figures["items"] = items
    progress("基线 / training the baseline")
    base = baseline(
        [r.text for r in train_rows],
        [r.label for r in train_rows],
        texts,
        [r.label for r in test_rows],
    )
    figures["baseline"] = base
    figures["gain"] = {
        "macro_f1_ratio": round(figures["macro_f1"] / base["macro_f1"], 4),
        "macro_f1_points": round(100 * (figures["macro_f1"] - base["macro_f1"]), 2),
        "accuracy_ratio": round(figures["accuracy"] / base["accuracy"], 4),
        "throughput_ratio_batch_1": round(
            figures["throughput_per_s"]["batch_1"] / base["throughput_per_s"]["batch_1"], 2
        ),
        f"throughput_ratio_batch_{BATCH}": round(
            figures["throughput_per_s"][f"batch_{BATCH}"]
            / base["throughput_per_s"][f"batch_{BATCH}"],
            2,
        ),
    }
    figures["data"] = {
        "train": f"{APPEALS}/{TRAIN_FILE} ({len(train_rows)} rows)",
        "test": f"{APPEALS}/{TEST_FILE} ({len(test_rows)} rows)",
        "train_test_exact_overlap": _overlap(train_rows, test_rows),
    }
    figures["labels"] = list(clf.labels)
    return figures


def _overlap(train_rows: Sequence[Any], test_rows: Sequence[Any]) -> int:
    from minyi.triage.normalise import normalise

    seen = {normalise(r.text) for r in train_rows}
    return sum(normalise(r.text) in seen for r in test_rows)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
