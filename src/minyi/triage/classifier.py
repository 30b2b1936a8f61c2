"""First-level classifier: which of the 7 contest labels an appeal belongs to, how sure the
machine is (a calibrated probability), and which words made it think so.

The model (chosen by 5-fold cross-validation on `train.csv`, see docs/triage-model.md):
TF-IDF over character 1–3-grams of the whole text (sublinear tf) and, as a separate block,
over the title alone (a citizen's title names the matter more plainly than the body), an
NB-SVM (one linear SVM per label over naive-Bayes-scaled features) over both blocks, and
probabilities from a calibrator fitted on out-of-fold SVM scores. Character n-grams need
no word segmentation: jieba costs about 1 ms per appeal, which alone would break the
2,000 appeals/s budget, and words did not pay in CV.

`features` are the n-grams with the largest contribution (tf-idf value × SVM weight)
toward the chosen label: the explanation shown to dispatchers, stored with the decision.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from minyi.triage.normalise import normalise

FloatArray = NDArray[np.float64]

CALIBRATION_METHODS = ("sigmoid", "isotonic", "softmax")
TITLE_WEIGHT = 0.6
SVM_C = 4.0
# Smoothing of the naive-Bayes ratios that scale the features (see `_fit_svm`).
NB_ALPHA = 0.1
FOLDS = 5
MAX_FEATURES_SHOWN = 8
# Long bodies add little after their first paragraphs but cost time to vectorise.
MAX_CHARS = 1500


@dataclass(frozen=True)
class LabelPrediction:
    label: str
    confidence: float
    top3: list[tuple[str, float]]
    probabilities: dict[str, float]
    features: list[tuple[str, float]]


class Classifier(Protocol):
    version: str
    labels: tuple[str, ...]

    def predict(self, texts: Sequence[str]) -> list[LabelPrediction]: ...


def appeal_text(title: str, body: str) -> str:
    """The text the classifier reads: the title on the first line (it gets its own
    features), then the body."""
    return f"{title.strip()}\n{body.strip()}"


def split_title(text: str) -> tuple[str, str]:
    """Normalised (title, whole text) of a text made by `appeal_text` (or free text, whose
    first line stands for the title)."""
    text = normalise(text)[:MAX_CHARS]
    return text.partition("\n")[0], text


class Calibrator:
    """Decision scores (one per label) to probabilities summing to 1.

    sigmoid: one Platt curve per label (one-vs-rest), normalised — what scikit-learn's
    CalibratedClassifierCV does; isotonic: one monotone step curve per label, normalised;
    softmax: a multinomial logistic regression over the whole score vector."""

    def __init__(self, method: str) -> None:
        if method not in CALIBRATION_METHODS:
            raise ValueError(f"unknown calibration method {method!r}")
        self.method = method
        self._a: FloatArray = np.zeros(0)
        self._b: FloatArray = np.zeros(0)
        self._coef: FloatArray = np.zeros((0, 0))
        self._isotonic: list[Any] = []

    def fit(self, scores: FloatArray, y: NDArray[np.int64]) -> Calibrator:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression

        n = scores.shape[1]
        if self.method == "softmax":
            lr = LogisticRegression(C=100.0, max_iter=1000).fit(scores, y)
            coef = np.zeros((n, n))
            intercept = np.zeros(n)
            # A class missing from y (tiny data) keeps a zero row: it gets little mass.
            coef[lr.classes_] = lr.coef_ if len(lr.classes_) > 2 else np.zeros((2, n))
            intercept[lr.classes_] = lr.intercept_ if len(lr.classes_) > 2 else 0.0
            self._coef, self._b = coef, intercept
            return self
        a, b = np.ones(n), np.zeros(n)
        self._isotonic = []
        for k in range(n):
            target = (y == k).astype(np.float64)
            column = scores[:, k : k + 1]
            if self.method == "isotonic":
                iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
                self._isotonic.append(iso.fit(column[:, 0], target))
            elif 0 < target.sum() < len(target):
                lr = LogisticRegression(C=1e4, max_iter=1000).fit(column, target)
                a[k], b[k] = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        self._a, self._b = a, b
        return self

    def apply(self, scores: FloatArray) -> FloatArray:
        if self.method == "softmax":
            z = scores @ self._coef.T + self._b
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
        elif self.method == "isotonic":
            p = np.column_stack([iso.predict(scores[:, k]) for k, iso in enumerate(self._isotonic)])
        else:
            p = 1.0 / (1.0 + np.exp(-(scores * self._a + self._b)))
        total = p.sum(axis=1, keepdims=True)
        p = np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / scores.shape[1])
        return np.asarray(p, dtype=np.float64)


class CharNgrams:
    """TF-IDF over character 1–3-grams with sublinear tf, smooth idf and L2 norm — what
    scikit-learn's `TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)`
    computes, in a handful of numpy calls per text instead of a Python loop per n-gram
    (several times faster, which is what the 2,000 appeals/s budget needs).

    An n-gram is its code points packed into one integer (21 bits each, so a 3-gram fits in
    63 bits and the n-gram can be read back for the explanation); the vocabulary is the
    sorted array of those integers."""

    def __init__(self, keys: NDArray[np.uint64], idf: NDArray[np.float32]) -> None:
        self.keys = keys
        self.idf = idf

    @classmethod
    def fit(cls, texts: Sequence[str], *, min_df: int) -> CharNgrams:
        grams = [_grams(t)[0] for t in texts]
        if not grams:
            return cls(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.float32))
        keys, df = np.unique(np.concatenate(grams), return_counts=True)
        keep = df >= min_df
        idf = np.log((1.0 + len(texts)) / (1.0 + df[keep])) + 1.0
        return cls(keys[keep], idf.astype(np.float32))

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, text: str) -> tuple[NDArray[np.intp], NDArray[np.float32]]:
        """Column indices and L2-normalised tf-idf values of one normalised text."""
        grams, counts = _grams(text)
        if not len(self.keys) or not len(grams):
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        pos = np.minimum(np.searchsorted(self.keys, grams), len(self.keys) - 1)
        hit = self.keys[pos] == grams
        idx = pos[hit]
        values = (1.0 + np.log(counts[hit].astype(np.float32))) * self.idf[idx]
        norm = float(np.sqrt(np.dot(values, values)))
        return idx, values / norm if norm > 0 else values

    def matrix(self, texts: Sequence[str]) -> Any:
        from scipy.sparse import csr_matrix

        rows = [self.row(t) for t in texts]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(i) for i, _ in rows])
        indices = np.concatenate([i for i, _ in rows]) if rows else np.zeros(0, np.intp)
        data = np.concatenate([v for _, v in rows]) if rows else np.zeros(0, np.float32)
        return csr_matrix((data, indices, indptr), shape=(len(rows), len(self.keys)))


_SHIFT1 = np.uint64(21)
_SHIFT2 = np.uint64(42)
_CODE_POINT = 0x1FFFFF


def _grams(text: str) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """The distinct packed 1–3-grams of `text` and how often each occurs."""
    c = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts = [c]
    if len(c) > 1:
        parts.append((c[:-1] << _SHIFT1) | c[1:])
    if len(c) > 2:
        parts.append((c[:-2] << _SHIFT2) | (c[1:-1] << _SHIFT1) | c[2:])
    grams, counts = np.unique(np.concatenate(parts), return_counts=True)
    return grams, counts


def gram_text(key: int) -> str:
    """The n-gram a packed key stands for."""
    chars: list[str] = []
    while key:
        chars.append(chr(key & _CODE_POINT))
        key >>= 21
    return "".join(reversed(chars))


class TextClassifier:
    """The trained first-level classifier (see the module docstring)."""

    def __init__(
        self,
        *,
        version: str,
        labels: tuple[str, ...],
        text_ngrams: CharNgrams,
        title_ngrams: CharNgrams,
        title_weight: float,
        weights_text: NDArray[np.float32],
        weights_title: NDArray[np.float32],
        intercept: FloatArray,
        calibrator: Calibrator,
    ) -> None:
        self.version = version
        self.labels = labels
        self.text_ngrams = text_ngrams
        self.title_ngrams = title_ngrams
        self.title_weight = title_weight
        # (n_features, n_labels), C order: a text's few hundred rows are gathered at once.
        self.weights_text = weights_text
        self.weights_title = weights_title
        self.intercept = intercept
        self.calibrator = calibrator

    def _rows(self, text: str) -> tuple[Any, Any, Any, Any, FloatArray]:
        title, whole = split_title(text)
        ti, tv = self.text_ngrams.row(whole)
        hi, hv = self.title_ngrams.row(title)
        score = (
            tv @ self.weights_text[ti]
            + (self.title_weight * hv) @ self.weights_title[hi]
            + self.intercept
        )
        return ti, tv, hi, hv, np.asarray(score, dtype=np.float64)

    def decision_function(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, len(self.labels)))
        return np.vstack([self._rows(t)[4] for t in texts])

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        """Calibrated probabilities, one column per label in `labels` order."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        return self.calibrator.apply(self.decision_function(texts))

    def predict(self, texts: Sequence[str]) -> list[LabelPrediction]:
        if not texts:
            return []
        rows = [self._rows(t) for t in texts]
        proba = self.calibrator.apply(np.vstack([r[4] for r in rows]))
        out: list[LabelPrediction] = []
        for (ti, tv, hi, hv, _), row in zip(rows, proba, strict=True):
            order = np.argsort(-row, kind="stable")
            best = int(order[0])
            out.append(
                LabelPrediction(
                    label=self.labels[best],
                    confidence=float(row[best]),
                    top3=[(self.labels[k], float(row[k])) for k in order[:3]],
                    probabilities={lab: float(p) for lab, p in zip(self.labels, row, strict=True)},
                    features=self._explain(ti, tv, hi, hv, best),
                )
            )
        return out

    def _explain(self, ti: Any, tv: Any, hi: Any, hv: Any, k: int) -> list[tuple[str, float]]:
        """The n-grams that pushed hardest toward label `k`, longest wording kept: a 1- or
        2-gram inside an already shown stronger n-gram adds nothing for the reader."""
        weight: dict[str, float] = {}
        for ngrams, idx, values, weights, scale in (
            (self.text_ngrams, ti, tv, self.weights_text, 1.0),
            (self.title_ngrams, hi, hv, self.weights_title, self.title_weight),
        ):
            contribution = values * weights[idx, k] * scale
            n = min(2 * MAX_FEATURES_SHOWN, len(contribution))
            if n == 0:
                continue
            top = np.argpartition(-contribution, n - 1)[:n]
            for j in top[np.argsort(-contribution[top])]:
                if contribution[j] <= 0:
                    break
                name = gram_text(int(ngrams.keys[idx[j]]))
                weight[name] = weight.get(name, 0.0) + float(contribution[j])
        shown: list[tuple[str, float]] = []
        for name, w in sorted(weight.items(), key=lambda item: -item[1]):
            gram = name.strip()
            if not gram or not any(c.isalnum() for c in gram):
                continue
            if any(gram in other for other, _ in shown):
                continue
            shown.append((gram, round(w, 4)))
            if len(shown) == MAX_FEATURES_SHOWN:
                break
        return shown


def _fit_svm(
    x: Any, y: NDArray[np.int64], n_labels: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """(coef, intercept) with one row per label, also for labels absent from `y`.

    NB-SVM (Wang & Manning 2012): for each label a binary SVM over the features scaled by
    their naive-Bayes log-count ratio r (label vs the rest), so words typical of one label
    start with more weight. The scaled SVM is linear in the unscaled features with weights
    r ⊙ w, which is what is returned: prediction and explanations are unchanged."""
    from scipy.sparse import diags
    from sklearn.svm import LinearSVC

    coef = np.zeros((n_labels, x.shape[1]))
    intercept = np.full(n_labels, -1.0)
    present = np.unique(y)
    if len(present) == 1:
        intercept[present[0]] = 1.0
        return coef, intercept
    for k in present:
        mine = y == k
        p = NB_ALPHA + np.asarray(x[mine].sum(axis=0)).ravel()
        q = NB_ALPHA + np.asarray(x[~mine].sum(axis=0)).ravel()
        r = np.log((p / p.sum()) / (q / q.sum()))
        svm = LinearSVC(C=SVM_C, random_state=seed).fit(x @ diags(r), mine)
        coef[k] = svm.coef_[0] * r
        intercept[k] = svm.intercept_[0]
    return coef, intercept


@dataclass(frozen=True)
class TrainingReport:
    """Out-of-fold figures from training, kept in the artefact's metadata."""

    oof_probabilities: FloatArray
    y: NDArray[np.int64]
    calibration: str
    calibration_ece: dict[str, float]
    pseudo_labelled: int


def train_classifier(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    unlabeled: Sequence[str] = (),
    seed: int = 0,
    calibration: str | None = None,
) -> TextClassifier:
    """Train on `texts` (made by `appeal_text`) and their labels; see `fit_classifier`."""
    return fit_classifier(texts, labels, unlabeled=unlabeled, seed=seed, calibration=calibration)[0]


def fit_classifier(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    unlabeled: Sequence[str] = (),
    seed: int = 0,
    calibration: str | None = None,
    self_training_margin: float | None = None,
) -> tuple[TextClassifier, TrainingReport]:
    """Train and calibrate. The calibrator is fitted on out-of-fold SVM scores (5 folds, or
    fewer on tiny data); with `calibration=None` the method with the lowest out-of-fold
    ECE wins. Unlabelled texts widen the IDF statistics; with `self_training_margin` the
    confident ones (SVM margin above it) are added once with their predicted labels."""
    if len(texts) != len(labels) or not texts:
        raise ValueError("texts and labels must be non-empty and of the same length")
    label_set = tuple(sorted(set(labels)))
    index = {lab: i for i, lab in enumerate(label_set)}
    y = np.array([index[lab] for lab in labels], dtype=np.int64)
    pairs = [split_title(t) for t in texts]
    extra = [split_title(t) for t in unlabeled]
    min_df = 2 if len(pairs) + len(extra) >= 200 else 1
    text_ngrams = CharNgrams.fit([w for _, w in pairs + extra], min_df=min_df)
    title_ngrams = CharNgrams.fit([t for t, _ in pairs + extra], min_df=min_df)
    from scipy.sparse import hstack, vstack

    def matrix(items: list[tuple[str, str]]) -> Any:
        xt = text_ngrams.matrix([w for _, w in items])
        xh = title_ngrams.matrix([t for t, _ in items])
        return hstack([xt, TITLE_WEIGHT * xh]).tocsr()

    x = matrix(pairs)
    n_text = len(text_ngrams)
    coef, intercept = _fit_svm(x, y, len(label_set), seed)
    x_all, y_all = x, y
    pseudo = 0
    if extra and self_training_margin is not None and len(label_set) > 2:
        xu = matrix(extra)
        s = np.sort(np.asarray(xu @ coef.T) + intercept, axis=1)
        keep = s[:, -1] - s[:, -2] > self_training_margin
        if keep.any():
            yu = (np.asarray(xu[keep] @ coef.T) + intercept).argmax(axis=1).astype(np.int64)
            x_all, y_all = vstack([x, xu[keep]]).tocsr(), np.concatenate([y, yu])
            pseudo = int(keep.sum())
            coef, intercept = _fit_svm(x_all, y_all, len(label_set), seed)
    oof = _out_of_fold_scores(x_all, y_all, len(x.indptr) - 1, len(label_set), seed)
    methods = (calibration,) if calibration else CALIBRATION_METHODS
    eces = {m: _oof_calibration_ece(oof, y, m, seed) for m in methods}
    method = min(eces, key=lambda m: eces[m])
    calibrator = Calibrator(method).fit(oof, y)
    classifier = TextClassifier(
        version="untrained",
        labels=label_set,
        text_ngrams=text_ngrams,
        title_ngrams=title_ngrams,
        title_weight=TITLE_WEIGHT,
        weights_text=np.ascontiguousarray(coef[:, :n_text].T, dtype=np.float32),
        weights_title=np.ascontiguousarray(coef[:, n_text:].T, dtype=np.float32),
        intercept=intercept,
        calibrator=calibrator,
    )
    report = TrainingReport(
        oof_probabilities=calibrator.apply(oof),
        y=y,
        calibration=method,
        calibration_ece=eces,
        pseudo_labelled=pseudo,
    )
    return classifier, report


def _folds(y: NDArray[np.int64], seed: int) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(y).min(initial=0)) if len(y) else 0
    n = max(2, min(FOLDS, smallest)) if smallest >= 2 else 2
    if smallest < 2:
        from sklearn.model_selection import KFold

        return list(KFold(n, shuffle=True, random_state=seed).split(y))
    return list(StratifiedKFold(n, shuffle=True, random_state=seed).split(y, y))


def _out_of_fold_scores(
    x: Any, y: NDArray[np.int64], n_labelled: int, n_labels: int, seed: int
) -> FloatArray:
    """SVM scores for each labelled row from a model that did not see it (pseudo-labelled
    rows after `n_labelled` always stay in training)."""
    scores = np.zeros((n_labelled, n_labels))
    extra = np.arange(n_labelled, x.shape[0])
    for train, held in _folds(y[:n_labelled], seed):
        rows = np.concatenate([train, extra])
        coef, intercept = _fit_svm(x[rows], y[rows], n_labels, seed)
        scores[held] = np.asarray(x[held] @ coef.T) + intercept
    return scores


def _oof_calibration_ece(scores: FloatArray, y: NDArray[np.int64], method: str, seed: int) -> float:
    """ECE of `method` fitted on other folds' scores: how well it calibrates unseen rows."""
    proba = np.zeros_like(scores)
    for train, held in _folds(y, seed + 1):
        proba[held] = Calibrator(method).fit(scores[train], y[train]).apply(scores[held])
    return expected_calibration_error(proba, y)


def expected_calibration_error(proba: FloatArray, y: NDArray[np.int64], bins: int = 15) -> float:
    """ECE over `bins` equal-width bins of the top probability: the mean gap between how
    sure the model says it is and how often it is right, weighted by bin size."""
    if len(y) == 0:
        return 0.0
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        in_bin = (confidence > lo) & (confidence <= hi) if lo > 0 else confidence <= hi
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece) if math.isfinite(ece) else 1.0
