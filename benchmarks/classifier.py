"""First-level classifier: the cross-validation that chose the model, and the test figures.

    .venv/bin/python benchmarks/classifier.py            # CV table of the candidates (train.csv)
    .venv/bin/python benchmarks/classifier.py --json     # the same as one JSON object
    .venv/bin/python benchmarks/classifier.py --eval     # = `minyi model eval --json` (test.csv)

The CV is 5-fold, stratified and grouped by normalised title (train.csv repeats some
messages, once with the raw body and once as segmented text: both copies stay in one fold),
macro-F1 mean ± sd over the folds. It reads only `appeals/train.csv` and the unlabelled files;
test.csv is read only by `--eval`. Run it on an idle machine: it fits about 40 SVMs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from scipy.sparse import hstack, vstack

from minyi.core.config import Settings
from minyi.triage.classifier import CharNgrams, _fit_svm, split_title
from minyi.triage.training import APPEALS, TRAIN_FILE, read_labelled, read_unlabelled

Fold = dict[str, Any]


def _fold_data(texts: list[str], unlabelled: list[str]) -> Callable[..., Any]:
    pairs = [split_title(t) for t in texts]
    extra = [split_title(t) for t in unlabelled]

    def blocks(
        train: np.ndarray[Any, Any], held: np.ndarray[Any, Any], *, idf_unlabelled: bool
    ) -> Fold:
        fit_docs = [pairs[i] for i in train] + (extra if idf_unlabelled else [])
        whole = CharNgrams.fit([w for _, w in fit_docs], min_df=2)
        title = CharNgrams.fit([t for t, _ in fit_docs], min_df=2)

        def m(items: list[tuple[str, str]], w: float) -> Any:
            return hstack(
                [whole.matrix([x for _, x in items]), w * title.matrix([t for t, _ in items])]
            ).tocsr()

        return {
            "whole": lambda idx: whole.matrix([pairs[i][1] for i in idx]),
            "both": lambda idx, w: m([pairs[i] for i in idx], w),
            "unlabelled": lambda w: m(extra, w),
        }

    return blocks


def cross_validate(shared_data: Path, folds: int = 5) -> dict[str, Any]:
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.naive_bayes import ComplementNB
    from sklearn.svm import LinearSVC

    from minyi.triage.normalise import normalise

    jieba.setLogLevel(logging.WARNING)
    rows = read_labelled(shared_data / APPEALS / TRAIN_FILE)
    texts = [r.text for r in rows]
    y = np.array([r.label for r in rows])
    groups = [normalise(t).partition("\n")[0] for t in texts]
    unlabelled = read_unlabelled(shared_data)
    words = [" ".join(jieba.lcut(normalise(t), HMM=False)) for t in texts]
    blocks = _fold_data(texts, unlabelled)
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=0)
    scores: dict[str, list[float]] = {}

    def add(name: str, pred: Any, held: Any) -> None:
        scores.setdefault(name, []).append(float(f1_score(y[held], pred, average="macro")))

    for k, (tr, te) in enumerate(splitter.split(texts, y, groups)):
        start = time.perf_counter()
        base = TfidfVectorizer(analyzer="char", ngram_range=(1, 3))
        xa = base.fit_transform([texts[i] for i in tr])
        xb = base.transform([texts[i] for i in te])
        add(
            "baseline: raw text, char 1-3 tf-idf, LinearSVC C=1",
            LinearSVC().fit(xa, y[tr]).predict(xb),
            te,
        )
        b = blocks(tr, te, idf_unlabelled=False)
        wa, wb = b["whole"](tr), b["whole"](te)
        add(
            "normalised, sublinear tf, min_df 2, LinearSVC C=1",
            LinearSVC().fit(wa, y[tr]).predict(wb),
            te,
        )
        add(
            "  same, ComplementNB alpha 0.1", ComplementNB(alpha=0.1).fit(wa, y[tr]).predict(wb), te
        )
        ha, hb = b["both"](tr, 0.6), b["both"](te, 0.6)
        for c in (1.0, 4.0):
            add(
                f"+ title block x0.6, LinearSVC C={c:g}",
                LinearSVC(C=c).fit(ha, y[tr]).predict(hb),
                te,
            )
        add(
            "+ title block x0.6, LogisticRegression C=100",
            LogisticRegression(C=100, max_iter=500).fit(ha, y[tr]).predict(hb),
            te,
        )
        vw = TfidfVectorizer(
            token_pattern=r"(?u)\S+", ngram_range=(1, 2), sublinear_tf=True, min_df=2
        )
        ja = hstack([ha, vw.fit_transform([words[i] for i in tr])]).tocsr()
        jb = hstack([hb, vw.transform([words[i] for i in te])]).tocsr()
        add(
            "+ title + jieba words 1-2, LinearSVC C=4",
            LinearSVC(C=4).fit(ja, y[tr]).predict(jb),
            te,
        )
        labels = sorted(set(y))
        yi = np.array([labels.index(v) for v in y])
        coef, intercept = _fit_svm(ha, yi[tr], len(labels), 0)
        nb = (np.asarray(hb @ coef.T) + intercept).argmax(axis=1)
        add("+ title x0.6, NB-SVM (alpha 0.1), C=4 [chosen]", np.array(labels)[nb], te)
        svm = LinearSVC(C=4).fit(ha, y[tr])
        ua = b["unlabelled"](0.6)
        d = svm.decision_function(ua)
        s = np.sort(d, axis=1)
        keep = s[:, -1] - s[:, -2] > 1.0
        st = LinearSVC(C=4).fit(
            vstack([ha, ua[keep]]), np.concatenate([y[tr], svm.classes_[d.argmax(1)][keep]])
        )
        add("+ title, self-training (margin > 1) on unlabelled, C=4", st.predict(hb), te)
        u = blocks(tr, te, idf_unlabelled=True)
        add(
            "+ title, IDF from unlabelled too, C=4",
            LinearSVC(C=4).fit(u["both"](tr, 0.6), y[tr]).predict(u["both"](te, 0.6)),
            te,
        )
        print(f"fold {k + 1}/{folds}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return {
        "source": f"{APPEALS}/{TRAIN_FILE}, {folds}-fold StratifiedGroupKFold by title, macro-F1",
        "rows": len(rows),
        "unlabelled": len(unlabelled),
        "candidates": {
            name: {"mean": round(float(np.mean(v)), 4), "sd": round(float(np.std(v)), 4)}
            for name, v in scores.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--eval", action="store_true", help="test.csv figures (minyi model eval)")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    data = args.data or Settings().shared_data
    if args.eval:
        from minyi.triage.evaluation import evaluate

        print(
            json.dumps(
                evaluate(data, progress=lambda s: print(s, file=sys.stderr)), ensure_ascii=False
            )
        )
        return
    result = cross_validate(data, args.folds)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    print(result["source"])
    for name, v in result["candidates"].items():
        print(f"{name:60} {v['mean']:.4f} ± {v['sd']:.4f}")


if __name__ == "__main__":
    main()
