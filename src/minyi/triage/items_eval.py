"""Item-level figures on the hand-labelled sample, and the corrections learning curve.

The sample is `data/item_labels.csv`: 320 messages of the contest's `test.csv`, each with
the DB44 third-level path a person chose (docs/triage/item-labels.md). Only ids and paths
are in the repository; the texts are read from `shared_data` by id. Two accuracies, as the
labelling notes ask: strict (only `db44_path` counts) and lenient (an `unsure` row's
runner-up in `note` counts too), on all 320 rows and on the `sure` ones alone.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from minyi.triage.items import (
    ItemCandidate,
    ItemRanker,
    choose_threshold,
    load_catalogue_rows,
)

CURVE_STEPS: tuple[int | None, ...] = (0, 25, 50, 100, 200, 300, 400, None)  # None: all
CURVE_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99)


@dataclass(frozen=True)
class LabelledItem:
    id: str
    path: str
    sure: bool
    runner_up: str | None
    text: str
    time: str


def load_labelled(shared_data: Path, labels_file: str = "item_labels.csv") -> list[LabelledItem]:
    """The hand-labelled rows with their text and time from the appeals file they name."""
    raw = resources.files("minyi.triage").joinpath(f"data/{labels_file}").read_text("utf-8")
    labels = list(csv.DictReader(raw.splitlines()))
    source = "train.csv" if "train" in labels_file else "test.csv"
    with (shared_data / "appeals" / source).open(encoding="utf-8", newline="") as fh:
        texts = {r["id"]: r for r in csv.DictReader(fh)}
    out = []
    for row in labels:
        msg = texts[row["id"]]
        body = msg["body"] or msg.get("seg_text", "").replace(" ", "")
        out.append(
            LabelledItem(
                id=row["id"],
                path=row["db44_path"],
                sure=row["confidence"] == "sure",
                runner_up=row["note"] or None,
                text=f"{msg['title']}\n{body}",
                time=msg["time"],
            )
        )
    return out


def item_figures(
    items: Sequence[LabelledItem],
    ranked: Sequence[Sequence[ItemCandidate]],
    threshold: float | None,
) -> dict[str, Any]:
    """Top-1/top-5 (strict and lenient), auto-dispatch share and precision, the curve."""

    def block(keep: Callable[[LabelledItem], bool]) -> dict[str, Any]:
        pairs = [(it, r) for it, r in zip(items, ranked, strict=True) if keep(it)]
        n = len(pairs)
        if n == 0:
            return {"n": 0}
        fig: dict[str, Any] = {"n": n}
        for name, ok in (("strict", _strict), ("lenient", _lenient)):
            fig[f"top1_{name}"] = sum(ok(it, r[0].path) for it, r in pairs) / n
            fig[f"top5_{name}"] = sum(any(ok(it, c.path) for c in r[:5]) for it, r in pairs) / n
        fig["auto"] = _auto(pairs, threshold)
        fig["ece_top1"] = expected_calibration_error(
            [(r[0].score, _strict(it, r[0].path)) for it, r in pairs]
        )
        return fig

    return {
        "threshold": threshold,
        "all": block(lambda it: True),
        "sure": block(lambda it: it.sure),
        "curve": [
            {"threshold": t, **_auto([(it, r) for it, r in zip(items, ranked, strict=True)], t)}
            for t in CURVE_THRESHOLDS
        ],
    }


def evaluate_items(model: Any, shared_data: Path) -> dict[str, Any]:
    """The figures of `model.ranker` on the 320 hand labels, with the first-level
    probabilities of `model.classifier`; the threshold is the ranker's own (chosen on its
    examples, never on these labels)."""
    items = load_labelled(shared_data)
    preds = model.classifier.predict([it.text for it in items])
    ranker: ItemRanker = model.ranker
    ranked = [
        ranker.rank(it.text, p.probabilities, k=5) for it, p in zip(items, preds, strict=True)
    ]
    figures = item_figures(items, ranked, ranker.auto_threshold)
    figures["source"] = "src/minyi/triage/data/item_labels.csv (320 test.csv ids, hand-labelled)"
    figures["examples_used"] = ranker.examples_used
    return figures


def corrections_curve(
    items: Sequence[LabelledItem],
    probs: Mapping[str, Mapping[str, float]],
    shared_data: Path,
    *,
    extra: Sequence[LabelledItem] = (),
    folds: int = 5,
    seed: int = 4,
    steps: Sequence[int | None] = CURVE_STEPS,
) -> dict[str, Any]:
    """Item accuracy against the number of dispatcher corrections seen.

    `items` are split into `folds` folds; for fold i, the first s labels of `extra` and the
    other folds together, in time order, play the dispatcher's stream of corrections and the
    ranker is measured on fold i, which never feeds it. `probs` maps a text to the
    first-level classifier's probabilities. Auto-dispatch figures are pooled over folds, with
    the threshold each fold's ranker chose on its own examples.
    """
    rows = load_catalogue_rows(shared_data)
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    fold_of = {j: n % folds for n, j in enumerate(order)}

    def label_probs_of(texts: Sequence[str]) -> list[Mapping[str, float]]:
        return [probs[t] for t in texts]

    curve = []
    for step in steps:
        acc = {"top1_strict": 0.0, "top5_strict": 0.0, "top1_lenient": 0.0, "top5_lenient": 0.0}
        auto_n = auto_right = total = 0
        thresholds: list[float | None] = []
        fed: list[int] = []
        for f in range(folds):
            test = [items[j] for j in range(len(items)) if fold_of[j] == f]
            others = [items[j] for j in range(len(items)) if fold_of[j] != f]
            stream = sorted([*extra, *others], key=lambda it: it.time)
            stream = stream if step is None else stream[:step]
            fed.append(len(stream))
            ranker = ItemRanker.build(
                catalogue_rows=rows,
                examples=[(it.text, it.path) for it in stream],
                label_probs_of=label_probs_of,
            )
            ranked = [ranker.rank(it.text, probs[it.text], k=5) for it in test]
            fig = item_figures(test, ranked, ranker.auto_threshold)["all"]
            for key in acc:
                acc[key] += fig[key] * fig["n"]
            total += fig["n"]
            auto_n += fig["auto"]["count"]
            auto_right += round(fig["auto"]["precision_strict"] * fig["auto"]["count"])
            thresholds.append(ranker.auto_threshold)
        curve.append(
            {
                "examples": "all" if step is None else step,
                "examples_fed_per_fold": fed,
                **{key: value / total for key, value in acc.items()},
                "auto_thresholds": thresholds,
                "auto_share": auto_n / total,
                "auto_precision_strict": auto_right / auto_n if auto_n else None,
                "auto_count": auto_n,
            }
        )
    return {
        "note": (
            "examples are hand labels: the other folds of the evaluated sample plus "
            f"{len(extra)} extra labelled messages, fed in time order; the evaluated fold "
            "never feeds the model"
        ),
        "folds": folds,
        "seed": seed,
        "curve": curve,
    }


def expected_calibration_error(scored: Sequence[tuple[float, bool]], bins: int = 10) -> float:
    """Mean |confidence - accuracy| over equal-width score bins, weighted by bin size."""
    if not scored:
        return 0.0
    groups: dict[int, list[tuple[float, bool]]] = {}
    for score, ok in scored:
        groups.setdefault(min(int(score * bins), bins - 1), []).append((score, ok))
    return sum(
        abs(sum(s for s, _ in g) / len(g) - sum(ok for _, ok in g) / len(g)) * len(g)
        for g in groups.values()
    ) / len(scored)


def _strict(it: LabelledItem, path: str) -> bool:
    return path == it.path


def _lenient(it: LabelledItem, path: str) -> bool:
    return path == it.path or path == it.runner_up


def _auto(
    pairs: Sequence[tuple[LabelledItem, Sequence[ItemCandidate]]], threshold: float | None
) -> dict[str, Any]:
    chosen = [(it, r[0]) for it, r in pairs if threshold is not None and r[0].score >= threshold]
    n = len(chosen)
    return {
        "count": n,
        "share": n / len(pairs) if pairs else 0.0,
        "precision_strict": sum(_strict(it, c.path) for it, c in chosen) / n if n else 0.0,
        "precision_lenient": sum(_lenient(it, c.path) for it, c in chosen) / n if n else 0.0,
    }


__all__ = [
    "CURVE_STEPS",
    "LabelledItem",
    "choose_threshold",
    "corrections_curve",
    "evaluate_items",
    "expected_calibration_error",
    "item_figures",
    "load_labelled",
]
