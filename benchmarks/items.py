"""Fine-grained item ranking (DB44/T 2479-2024) on the hand-labelled sample, and the
corrections learning curve.

Run: `.venv/bin/python benchmarks/items.py [--json] [--folds 5]`

Data: `../shared/data/appeals/train.csv` (less the 210 item-labelled train ids) trains the
first-level classifier (the project's `minyi.triage.classifier.train_classifier`, or with
`--simple-classifier` TF-IDF char 1–3 + LogisticRegression trained here); the item figures
are on the 320 hand-labelled `test.csv` messages of `src/minyi/triage/data/item_labels.csv`;
the 210 hand-labelled `train.csv` messages of `item_labels_train.csv` serve as extra
corrections (and chose the ranker's weights). Only figures are printed, never text.

1. The ranker with no dispatcher examples (catalogue words and the crosswalk only): top-1
   and top-5, strict and lenient, on all 320 and the `sure` rows, and the whole
   precision/share curve over score thresholds (no threshold is chosen on these labels).
2. The corrections curve: 5 folds of the hand labels; for each fold the other folds' labels,
   in time order, are fed as corrections (0, 25, 50, 100, 200, all) and the fold is measured.
   The auto-dispatch threshold at each step is chosen by the ranker on its own examples
   (left-out ranking, 97 % precision), then applied to the held-out fold.
3. `rank` latency per call.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from minyi.core.config import Settings  # noqa: E402
from minyi.triage.items import ItemRanker, load_catalogue_rows, normalise_text  # noqa: E402
from minyi.triage.items_eval import (  # noqa: E402
    corrections_curve,
    item_figures,
    load_labelled,
)


def shared_data_dir() -> Path:
    path = Settings().shared_data
    return path if path.is_absolute() else (ROOT / path).resolve()


def train_rows(shared: Path, held_out_ids: set[str]) -> tuple[list[str], list[str]]:
    with (shared / "appeals" / "train.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["id"] not in held_out_ids]
    texts = [f"{r['title']}\n{r['body'] or r['seg_text'].replace(' ', '')}" for r in rows]
    return texts, [r["label"] for r in rows]


def first_level(
    shared: Path, texts: Sequence[str], held_out_ids: set[str], *, simple: bool = False
) -> tuple[str, list[dict[str, float]]]:
    """Probabilities per contest label for `texts`, from a classifier trained on train.csv
    without `held_out_ids` (the train.csv messages labelled with items are among `texts`,
    and their probabilities must be out-of-sample like the test messages')."""
    train_texts, labels = train_rows(shared, held_out_ids)
    if not simple:
        try:  # the project's own first-level classifier
            from minyi.triage.classifier import train_classifier

            clf = train_classifier(train_texts, labels)
            preds = clf.predict(list(texts))
            return "minyi.triage.classifier.train_classifier", [
                dict(p.probabilities) for p in preds
            ]
        except ImportError:
            pass
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2),
        LogisticRegression(C=10.0, max_iter=2000),
    )
    model.fit([normalise_text(t) for t in train_texts], labels)
    proba = model.predict_proba([normalise_text(t) for t in texts])
    classes = list(model.classes_)
    return "TF-IDF char 1-3 + LogisticRegression (benchmark)", [
        dict(zip(classes, map(float, row), strict=True)) for row in proba
    ]


def latency(ranker: ItemRanker, texts: Sequence[str], probs: Sequence[Mapping[str, float]]) -> Any:
    times = []
    for text, p in zip(texts, probs, strict=True):
        start = time.perf_counter()
        ranker.rank(text, p, k=5)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p99_ms": times[int(0.99 * (len(times) - 1))],
        "calls": len(times),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--simple-classifier",
        action="store_true",
        help="first level from TF-IDF char 1-3 + LogisticRegression instead of the project's",
    )
    args = parser.parse_args()
    shared = shared_data_dir()

    items = load_labelled(shared)
    extra = load_labelled(shared, "item_labels_train.csv")
    texts = [it.text for it in items]
    classifier, all_probs = first_level(
        shared,
        [*texts, *(it.text for it in extra)],
        {it.id for it in extra},
        simple=args.simple_classifier,
    )
    probs = all_probs[: len(items)]
    by_text = dict(zip([*texts, *(it.text for it in extra)], all_probs, strict=True))
    rows = load_catalogue_rows(shared)

    plain = ItemRanker.build(catalogue_rows=rows)
    ranked = [plain.rank(t, p, k=5) for t, p in zip(texts, probs, strict=True)]
    taught = ItemRanker.build(
        catalogue_rows=rows,
        examples=[(it.text, it.path) for it in extra],
        label_probs_of=lambda ts: [by_text[t] for t in ts],
    )
    ranked_taught = [taught.rank(t, p, k=5) for t, p in zip(texts, probs, strict=True)]
    extra_ranked = [plain.rank(it.text, by_text[it.text], k=5) for it in extra]
    result: dict[str, Any] = {
        "data": (
            "evaluation: item_labels.csv (320 hand-labelled test.csv ids); extra labels: "
            f"item_labels_train.csv ({len(extra)} hand-labelled train.csv ids); first-level "
            "classifier trained on train.csv without those ids"
        ),
        "classifier": classifier,
        "no_examples": item_figures(items, ranked, None),
        "no_examples_on_train_labels": item_figures(extra, extra_ranked, None),
        "train_labels_as_examples": item_figures(items, ranked_taught, taught.auto_threshold),
        "corrections": corrections_curve(items, by_text, shared, extra=extra, folds=args.folds),
        "rank_latency": latency(plain, texts, probs),
    }
    result["rank_latency_with_210_examples"] = latency(taught, texts, probs)

    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    _print(result)
    return 0


def _print(r: dict[str, Any]) -> None:
    print(f"data: {r['data']}\nfirst level: {r['classifier']}")
    ne = r["no_examples"]
    print("\nNo dispatcher examples (catalogue words + crosswalk):")
    for subset in ("all", "sure"):
        f = ne[subset]
        print(
            f"  {subset:4} n={f['n']:3}  top1 strict {f['top1_strict']:.3f} lenient "
            f"{f['top1_lenient']:.3f}  top5 strict {f['top5_strict']:.3f} lenient "
            f"{f['top5_lenient']:.3f}  ECE(top-1) {f['ece_top1']:.3f}"
        )
    print("  precision/share curve over the top item's score (all 320):")
    for c in ne["curve"]:
        print(
            f"    score >= {c['threshold']:.2f}: share {c['share']:.3f} (n={c['count']:3}) "
            f"precision strict {c['precision_strict']:.3f} lenient {c['precision_lenient']:.3f}"
        )
    t = r["train_labels_as_examples"]
    thr = "none reached" if t["threshold"] is None else f"{t['threshold']:.3f}"
    print(
        "\nThe extra train.csv labels as examples (threshold chosen on them, left-out "
        f"ranking, 97 % target: {thr}):"
    )
    for subset in ("all", "sure"):
        f = t[subset]
        print(
            f"  {subset:4} n={f['n']:3}  top1 strict {f['top1_strict']:.3f} lenient "
            f"{f['top1_lenient']:.3f}  top5 strict {f['top5_strict']:.3f} lenient "
            f"{f['top5_lenient']:.3f}  auto share {f['auto']['share']:.3f} "
            f"(n={f['auto']['count']}) "
            f"precision strict {f['auto']['precision_strict']:.3f} "
            f"lenient {f['auto']['precision_lenient']:.3f}"
        )
    cc = r["corrections"]
    print(f"\nCorrections curve ({cc['folds']} folds, mean over held-out folds): {cc['note']}")
    for c in cc["curve"]:
        thr = ", ".join("-" if t is None else f"{t:.2f}" for t in c["auto_thresholds"])
        prec = "-" if c["auto_precision_strict"] is None else f"{c['auto_precision_strict']:.3f}"
        print(
            f"  examples {c['examples']!s:>4}: top1 {c['top1_strict']:.3f} "
            f"(lenient {c['top1_lenient']:.3f})  top5 {c['top5_strict']:.3f} "
            f"(lenient {c['top5_lenient']:.3f})  auto share {c['auto_share']:.3f} "
            f"precision {prec} (n={c['auto_count']}; thresholds {thr})"
        )
    for key in ("rank_latency", "rank_latency_with_210_examples"):
        lat = r[key]
        print(f"\n{key}: median {lat['median_ms']:.3f} ms, p99 {lat['p99_ms']:.3f} ms")


if __name__ == "__main__":
    raise SystemExit(main())
