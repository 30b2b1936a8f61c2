"""The fine-grained item: rank the DB44/T 2479-2024 third-level items for one appeal.

The first-level classifier speaks the contest's 7 labels; dispatch needs the finest
catalogue item (SPEC §2 step 2). The ranker joins three kinds of evidence:

- the crosswalk (`catalogue/data/crosswalk.csv`): the classifier's label probabilities,
  spread over the DB44 subtrees each label covers (primary above secondary). Items outside
  every subtree keep a small floor, because a sixth of the hand-labelled appeals sit outside
  their label's subtrees (docs/triage/item-labels.md);
- the catalogue's own words: character n-gram TF-IDF similarity to the item's name, its
  parent's name and its definition (`remark`), and exact hits of keywords mined from them;
- history: dispatchers' confirmations and corrections (`examples`), as the nearest
  confirmed appeal and the item's centroid. History outweighs the catalogue's words once an
  item has examples, since real appeals say things the definitions never do.

The combined score becomes a distribution over items (softmax). When there are enough
examples, `build` ranks each example with itself left out and fits a Platt map from that
distribution to "the item was right", so `ItemCandidate.score` is a calibrated probability,
and picks `auto_threshold`, the lowest score at which left-out precision reaches 97 %.
Pure: no database, no files except `load_catalogue_rows`.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick
import numpy as np
import numpy.typing as npt
from scipy import sparse

from minyi.catalogue.crosswalk import Strength, load_crosswalk, to_item_path
from minyi.catalogue.service import read_standard, standard_path
from minyi.triage.normalise import normalise

FloatArray = npt.NDArray[np.float64]
LabelProbsOf = Callable[[Sequence[str]], Sequence[Mapping[str, float]]]

# The weights of the evidence in the score (a log-linear model). Chosen by a small grid on
# the 210 hand-labelled train.csv messages (data/item_labels_train.csv, best top-1 plus half
# top-5; history weights by ranking each of them with the other 209 as examples), never on
# the 320 test.csv labels the figures are reported on.
W_PRIOR = 1.0
W_NAME = 6.0
W_PARENT = 2.0
W_REMARK = 8.0
W_KEYWORD = 0.75
W_HISTORY = 12.0
W_CENTROID = 6.0
# How often each item was confirmed (smoothed log frequency): real appeals crowd into few items.
W_FREQUENCY = 0.25
FREQUENCY_SMOOTHING = 0.5
# "其他…" items (code ending 99) are the fallback of their subtree, chosen when nothing
# specific fits; a handicap keeps them below a specific item of equal evidence.
OTHER_PENALTY = 1.5
SECONDARY_WEIGHT = 0.35
PRIOR_FLOOR = 0.02
TEMPERATURE = 1.0
NGRAMS = (2, 3)
# The request is in the title and the opening; the rest of a long message (legal citations,
# background) adds time, not evidence.
MAX_CHARS = 1000
# The Platt map used until a ranker has enough examples of its own: fitted on the plain
# ranker's top-5 candidates for the 210 train.csv hand labels (no examples), so a score
# means "right this often" from the first day. Re-fit when the weights above change.
DEFAULT_PLATT = (0.7126, 0.2306)
# Too few left-out examples make a Platt fit and a 97 % threshold meaningless.
MIN_CALIBRATION_EXAMPLES = 30
MIN_AUTO_COUNT = 10
TARGET_PRECISION = 0.97

_SPLIT = re.compile(r"[、，,/／；;（）()：:“”\"\s]+|及|和|或|与|等")
_BOILERPLATE = re.compile(
    r"^(对|有关|关于)|(相关|方面|等方面|有关|之类)?(的)?(诉求|问题|事项|咨询|投诉|举报|建议)+$"
)
_GENERIC = frozenset({"政策咨询", "办事流程咨询", "业务查询", "相关诉求", "其他", "管理", "服务"})


@dataclass(frozen=True)
class CatalogueRow:
    path: str  # "09/0904/090403": codes repeat under different parents, the path is the identity
    code: str
    name: str  # level-3 name; for nameless rows the parent's name, as the catalogue shows them
    parent_name: str
    top_name: str
    remark: str


@dataclass(frozen=True)
class ItemCandidate:
    path: str
    code: str
    name: str
    score: float  # calibrated confidence in [0, 1] that this is the right item
    matched: list[str] = field(default_factory=list)


def load_catalogue_rows(shared_data: Path) -> list[CatalogueRow]:
    """The finest items of DB44/T 2479-2024 appendix A, one per printed row."""
    rows = read_standard(standard_path(shared_data))
    return [
        CatalogueRow(
            path="/".join(r.codes),
            code=r.codes[2],
            name=r.names[2] or r.names[1],
            parent_name=r.names[1],
            top_name=r.names[0],
            remark=r.remark,
        )
        for r in rows
    ]


def normalise_text(text: str) -> str:
    """The first-level classifier's normalisation, so both see one text."""
    return normalise(text)


def mine_keywords(row: CatalogueRow) -> list[str]:
    """Phrases an appeal would use for the item: the name and the remark's listed parts."""
    found: list[str] = []
    for source in (row.name, row.remark):
        for part in _SPLIT.split(source):
            part = _BOILERPLATE.sub("", part.strip())
            part = _BOILERPLATE.sub("", part)
            if 2 <= len(part) <= 8 and part not in _GENERIC and part not in found:
                found.append(part)
    return found


def _grams(text: str) -> list[str]:
    text = text[:MAX_CHARS]
    return [text[i : i + n] for n in NGRAMS for i in range(len(text) - n + 1)]


class _Vectoriser:
    """Character n-gram TF-IDF with a fixed vocabulary; hand-rolled so one short text
    turns into a vector in tens of microseconds (sklearn's per-call overhead is larger)."""

    def __init__(self, docs: Sequence[str]) -> None:
        vocab: dict[str, int] = {}
        df: list[int] = []
        for doc in docs:
            for g in set(_grams(doc)):
                j = vocab.setdefault(g, len(vocab))
                if j == len(df):
                    df.append(0)
                df[j] += 1
        self.vocab = vocab
        self.idf = np.log((1 + len(docs)) / (1 + np.asarray(df, dtype=np.float64))) + 1.0

    def transform_one(self, grams: Counter[str]) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """The non-zero columns and values of one text's unit-length vector."""
        vocab = self.vocab
        found = [(j, c) for g, c in grams.items() if (j := vocab.get(g)) is not None]
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        cols = np.fromiter((j for j, _ in found), dtype=np.int64, count=len(found))
        vals = 1.0 + np.log(np.fromiter((c for _, c in found), dtype=np.float64, count=len(found)))
        vals *= self.idf[cols]
        return cols, vals / math.sqrt(float(vals @ vals))

    def transform(self, docs: Sequence[str]) -> sparse.csr_matrix:
        indptr, indices, data = [0], [], []
        for doc in docs:
            cols, vals = self.transform_one(Counter(_grams(doc)))
            indices.extend(cols.tolist())
            data.extend(vals.tolist())
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (np.asarray(data), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
            shape=(len(docs), len(self.vocab)),
        )


@dataclass(frozen=True)
class _History:
    vectoriser: _Vectoriser
    # One row per example, then one per item centroid (normalised sum of its examples);
    # CSC so a query picks only its own columns.
    matrix: sparse.csc_matrix
    rows: sparse.csr_matrix  # the same, by rows, to take one example out
    item_of: npt.NDArray[np.int64]  # example → item index
    sums: sparse.csr_matrix  # per item, the sum of its examples' vectors
    sorted_examples: npt.NDArray[np.int64]  # example indices grouped by item
    group_starts: npt.NDArray[np.int64]  # where each item's group starts in that order
    group_items: npt.NDArray[np.int64]  # the item of each group
    counts: FloatArray  # confirmed examples per item


class ItemRanker:
    def __init__(
        self,
        rows: Sequence[CatalogueRow],
        *,
        text_matrix: sparse.csr_matrix,
        vectoriser: _Vectoriser,
        keywords: ahocorasick.Automaton,
        history: _History | None,
    ) -> None:
        self.rows = list(rows)
        self._index = {r.path: i for i, r in enumerate(self.rows)}
        # The name, parent and remark similarities, weighted and summed in one matrix so
        # a query costs one product.
        self._text_matrix = text_matrix
        self._item_grams = [
            frozenset(_grams(normalise_text(f"{r.name}{r.remark}"))) for r in self.rows
        ]
        self._vectoriser = vectoriser
        self._keywords = keywords
        self._history = history
        self._other = np.array([r.code.endswith("99") for r in self.rows])
        self._subtrees = _subtree_weights(self.rows)
        self.platt: tuple[float, float] | None = DEFAULT_PLATT
        self.auto_threshold: float | None = None
        self.examples_used = 0 if history is None else int(history.matrix.shape[0])

    @classmethod
    def build(
        cls,
        *,
        catalogue_rows: Sequence[CatalogueRow],
        examples: Sequence[tuple[str, str]] = (),
        label_probs_of: LabelProbsOf | None = None,
    ) -> ItemRanker:
        """A ranker over the catalogue, taught by dispatchers' confirmed (text, item_path)
        pairs. An example whose item is no longer in the catalogue is skipped. With
        `label_probs_of` (the first-level classifier) and at least 30 examples, the scores
        are calibrated on the examples, each ranked with itself left out, and
        `auto_threshold` is set; otherwise the default Platt map holds and `auto_threshold`
        stays None (nothing is dispatched on the item score alone)."""
        rows = list(catalogue_rows)
        index = {r.path: i for i, r in enumerate(rows)}
        name_docs = [normalise_text(r.name) for r in rows]
        parent_docs = [normalise_text(r.parent_name) for r in rows]
        remark_docs = [normalise_text(f"{r.name} {r.remark}") for r in rows]
        vectoriser = _Vectoriser([*name_docs, *remark_docs])
        automaton = ahocorasick.Automaton()
        owners: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            for kw in mine_keywords(r):
                owners[normalise_text(kw)].append(i)
        for kw, items in owners.items():
            # A phrase shared by many items says nothing about which one.
            if len(items) <= 3:
                automaton.add_word(kw, (kw, tuple(items)))
        if len(owners):
            automaton.make_automaton()
        raw = [(t, index[p]) for t, p in examples if p in index]
        known = [(normalise_text(t), i) for t, i in raw]
        history = _build_history(known, len(rows)) if known else None
        ranker = cls(
            rows,
            text_matrix=sparse.csr_matrix(
                W_NAME * vectoriser.transform(name_docs)
                + W_PARENT * vectoriser.transform(parent_docs)
                + W_REMARK * vectoriser.transform(remark_docs)
            ),
            vectoriser=vectoriser,
            keywords=automaton,
            history=history,
        )
        if label_probs_of is not None and len(known) >= MIN_CALIBRATION_EXAMPLES:
            ranker._calibrate([t for t, _ in raw], label_probs_of)
        return ranker

    def rank(self, text: str, label_probs: Mapping[str, float], k: int = 5) -> list[ItemCandidate]:
        """The k most likely items, best first, with a confidence and the words that matched."""
        norm = normalise_text(text)
        probs, hits = self._distribution(norm, label_probs, leave_out=None)
        top = np.argsort(-probs, kind="stable")[:k]
        return [
            ItemCandidate(
                path=self.rows[i].path,
                code=self.rows[i].code,
                name=self.rows[i].name,
                score=self._calibrated(float(probs[i])),
                matched=self._reasons(norm, int(i), hits),
            )
            for i in top
        ]

    def _distribution(
        self, norm: str, label_probs: Mapping[str, float], *, leave_out: int | None
    ) -> tuple[FloatArray, dict[int, list[str]]]:
        score = W_PRIOR * np.log(self._prior(label_probs))
        grams = Counter(_grams(norm))
        cols, vals = self._vectoriser.transform_one(grams)
        q = np.zeros(self._text_matrix.shape[1])
        q[cols] = vals
        score += self._text_matrix @ q
        hits: dict[int, list[str]] = defaultdict(list)
        if len(self._keywords):
            for _, (kw, items) in self._keywords.iter(norm):
                for i in items:
                    if kw not in hits[i]:
                        hits[i].append(kw)
        for i, kws in hits.items():
            # Longer phrases are rarer and more telling; several hits saturate.
            score[i] += W_KEYWORD * min(2.0, sum(len(kw) for kw in kws) / 4)
        score -= OTHER_PENALTY * self._other
        if self._history is not None:
            score += self._history_score(grams, leave_out)
        score = (score - score.max()) / TEMPERATURE
        e = np.exp(score)
        return e / e.sum(), hits

    def _prior(self, label_probs: Mapping[str, float]) -> FloatArray:
        prior = np.full(len(self.rows), PRIOR_FLOOR)
        total = sum(max(0.0, p) for p in label_probs.values()) or 1.0
        for label, p in label_probs.items():
            weights = self._subtrees.get(label)
            if weights is not None and p > 0:
                prior += (p / total) * weights
        return prior

    def _history_score(self, grams: Counter[str], leave_out: int | None) -> FloatArray:
        h = self._history
        assert h is not None
        cols, vals = h.vectoriser.transform_one(grams)
        both = _cos(h.matrix, cols, vals)
        n_examples = len(h.item_of)
        sims, centroid = both[:n_examples], both[n_examples:]
        if leave_out is not None:
            # Take the example out of its item's centroid; the other centroids are unchanged.
            sims[leave_out] = 0.0
            i = int(h.item_of[leave_out])
            rest = (h.sums[i] - h.rows[leave_out]).toarray().ravel()
            size = math.sqrt(float(rest @ rest))
            centroid[i] = float(rest[cols] @ vals) / size if size > 1e-9 else 0.0
        counts = h.counts
        if leave_out is not None:
            counts = counts.copy()
            counts[h.item_of[leave_out]] -= 1
        frequency: FloatArray = np.log(
            (counts + FREQUENCY_SMOOTHING) / (counts.sum() + FREQUENCY_SMOOTHING * len(counts))
        )
        nearest: FloatArray = np.zeros(len(self.rows))
        nearest[h.group_items] = np.maximum.reduceat(sims[h.sorted_examples], h.group_starts)
        return W_HISTORY * nearest + W_CENTROID * centroid + W_FREQUENCY * frequency

    def _calibrated(self, p: float) -> float:
        if self.platt is None:
            return p
        a, b = self.platt
        p = min(max(p, 1e-6), 1 - 1e-6)
        return 1.0 / (1.0 + math.exp(-(a * math.log(p / (1 - p)) + b)))

    def _calibrate(self, texts: Sequence[str], label_probs_of: LabelProbsOf) -> None:
        """Platt scaling and the auto-dispatch threshold from left-out examples: example j
        is ranked by a ranker that knows all the other examples but not j."""
        h = self._history
        assert h is not None
        all_probs = label_probs_of(texts)
        xs: list[float] = []
        ys: list[int] = []
        top1: list[tuple[float, int]] = []
        for j, (text, label_probs) in enumerate(zip(texts, all_probs, strict=True)):
            probs, _ = self._distribution(normalise_text(text), label_probs, leave_out=j)
            order = np.argsort(-probs, kind="stable")[:5]
            for rank, i in enumerate(order):
                p = min(max(float(probs[i]), 1e-6), 1 - 1e-6)
                right = int(i == h.item_of[j])
                xs.append(math.log(p / (1 - p)))
                ys.append(right)
                if rank == 0:
                    top1.append((p, right))
        if 0 < sum(ys) < len(ys):
            self.platt = _fit_platt(np.asarray(xs), np.asarray(ys))
        self.auto_threshold = choose_threshold([(self._calibrated(p), r) for p, r in top1])

    def _reasons(self, norm: str, i: int, hits: Mapping[int, list[str]]) -> list[str]:
        if hits.get(i):
            return list(hits[i])[:5]
        # No keyword: show the item's own words the appeal shares, longest first.
        shared = {g for g in self._item_grams[i] if g in norm}
        return sorted(shared, key=lambda g: (-len(g), g))[:3]


def choose_threshold(
    scored: Sequence[tuple[float, int]],
    *,
    target: float = TARGET_PRECISION,
    min_count: int = MIN_AUTO_COUNT,
) -> float | None:
    """The lowest score whose share at or above it is right at least `target` of the time
    (on at least `min_count` cases), or None when no such score exists."""
    ranked = sorted(scored, key=lambda s: -s[0])
    best: float | None = None
    right = 0
    for n, (score, ok) in enumerate(ranked, start=1):
        right += ok
        nxt = ranked[n][0] if n < len(ranked) else None
        if nxt == score:
            continue  # ties go in together: a threshold cannot split them
        if n >= min_count and right / n >= target:
            best = score
    return best


def _subtree_weights(rows: Sequence[CatalogueRow]) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    for entry in load_crosswalk():
        prefix = to_item_path(entry.db44_path)
        w = 1.0 if entry.strength is Strength.PRIMARY else SECONDARY_WEIGHT
        arr = out.setdefault(entry.contest_label, np.zeros(len(rows)))
        for i, r in enumerate(rows):
            if r.path == prefix or r.path.startswith(prefix + "/"):
                arr[i] = max(arr[i], w)
    return out


def _cos(matrix: sparse.csc_matrix, cols: npt.NDArray[np.int64], vals: FloatArray) -> FloatArray:
    if len(cols) == 0:
        return np.zeros(matrix.shape[0])
    return np.asarray(matrix[:, cols] @ vals).ravel()


def _build_history(known: Sequence[tuple[str, int]], n_items: int) -> _History:
    vectoriser = _Vectoriser([t for t, _ in known])
    matrix = vectoriser.transform([t for t, _ in known])
    item_of = np.asarray([i for _, i in known], dtype=np.int64)
    assign = sparse.csr_matrix(
        (np.ones(len(item_of)), (item_of, np.arange(len(item_of)))),
        shape=(n_items, len(item_of)),
    )
    sums = sparse.csr_matrix(assign @ matrix)
    norms = np.sqrt(np.asarray(sums.multiply(sums).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    centroids = sparse.diags(1.0 / norms) @ sums
    order = np.argsort(item_of, kind="stable")
    group_items, group_starts = np.unique(item_of[order], return_index=True)
    return _History(
        vectoriser,
        sparse.csc_matrix(sparse.vstack([matrix, centroids])),
        matrix,
        item_of,
        sums,
        order,
        group_starts.astype(np.int64),
        group_items.astype(np.int64),
        np.bincount(item_of, minlength=n_items).astype(np.float64),
    )


def _fit_platt(x: FloatArray, y: npt.NDArray[np.int64]) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0).fit(x.reshape(-1, 1), y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def evaluate_items(model: Any, shared_data: Path) -> dict[str, Any]:
    """Item-level figures on the hand-labelled sample (see `items_eval.evaluate_items`)."""
    from minyi.triage.items_eval import evaluate_items as _evaluate

    return _evaluate(model, shared_data)
