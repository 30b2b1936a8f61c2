"""The duplicate index's view of a text: its most distinctive words, TF-IDF weighted.

Why words and not character shingles: near-duplicates in 12345 work are the same matter
told by different people in their own words ("丽发新城小区旁的搅拌站噪音扰民" / "丽发新城
搅拌厂日夜施工，吵得睡不着"). They share the estate's and the company's names and a few
content words, but few character runs: on the silver hot-issue pairs of the real messages
(benchmarks/duplicates.py) character 2-gram Jaccard gives positives a median of 0.05,
indistinguishable from unrelated pairs, while the cosine of TF-IDF word vectors separates
them clearly. The words are jieba's, weighted by jieba's bundled inverse document
frequencies (a general Chinese corpus, shipped with the package, no data of ours), so the
signature needs no model trained on tickets and is the same in every process.

A signature keeps the `STORED_TERMS` heaviest words of the L2-normalised vector (enough
for the cosine of two appeals to within a few hundredths) as 64-bit hashes, and the
`INDEX_KEYS` heaviest of them are the keys of the database index: two appeals become
candidates when they share one distinctive word, and are then scored exactly.

Pure: the word list and the IDF table are loaded once per process.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from minyi.triage.normalise import normalise

# Measured on the real messages (benchmarks/duplicates.py, hotspot clusters): 12 keys
# keep all but a few per cent of the positives that the cosine threshold accepts, 8 lose
# about a tenth; more keys only add rows and unrelated candidates.
INDEX_KEYS = 12
STORED_TERMS = 48
# Only the start of a text is read: the matter and the place come first, and segmenting
# costs about 4 µs a character (median body 205 characters, 99th percentile 2,459). On the
# real messages (benchmarks/duplicates.py) 300 characters score as well as 500 (duplicates
# precision 0.967 / recall 0.466 against 0.965 / 0.465; repeats 0.650 / 0.723 against
# 0.653 / 0.712) at two thirds of the look-up's worst-case segmenting.
MAX_CHARS = 300

# Words that every appeal uses and that say nothing about the matter; jieba's general IDF
# rates some of them as rare because they are rare outside complaints.
_STOP_TEXT = (
    "您好 你好 反映 投诉 举报 请问 希望 问题 情况 相关 领导 政府 部门 有关部门 解决 处理 "
    "要求 请求 恳请 谢谢 感谢 非常 严重 我们 他们 你们 现在 已经 没有 什么 这个 那个 "
    "一个 这样 因为 所以 但是 而且 如果 可以 不能 还是 就是 为什么 怎么 多次 一直 至今 "
    "市民 居民 群众 本人 业主"
)
STOP_WORDS = frozenset(_STOP_TEXT.split())

_WORDISH = re.compile(r"[a-z\u4e00-\u9fff]")
_lock = threading.Lock()
_idf: tuple[dict[str, float], float] | None = None


@dataclass(frozen=True)
class Signature:
    """The heaviest words of a text as (hash, weight), heaviest first; weights are the
    coordinates of the whole L2-normalised vector, so `similarity` is a cosine."""

    hashes: tuple[int, ...]
    weights: tuple[float, ...]

    @property
    def keys(self) -> tuple[int, ...]:
        return self.hashes[:INDEX_KEYS]

    def __bool__(self) -> bool:
        return bool(self.hashes)


def normalised(text: str) -> str:
    """The triage-wide text form (full width, traditional characters, whitespace)."""
    return normalise(text)


def term_hash(term: str) -> int:
    """A stable signed 64-bit hash (Python's `hash` differs between processes)."""
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@lru_cache(maxsize=256)
def signature(text: str) -> Signature:
    """The duplicate index's signature of an appeal's text. Cached: intake looks the new
    appeal up and then indexes it, and word segmentation is the costly part of both."""
    # Normalising only collapses or widens a few characters: twice the prefix is plenty,
    # and a 2,000-character letter is not normalised whole for 300 characters of it.
    words = _words(normalised(text[: 2 * MAX_CHARS])[:MAX_CHARS])
    if not words:
        return Signature((), ())
    idf, median = _load_idf()
    raw = {w: n * idf.get(w, median) for w, n in Counter(words).items()}
    norm = math.sqrt(sum(x * x for x in raw.values()))
    # Ties broken by the word, so the same text always gives the same keys.
    top = sorted(raw.items(), key=lambda kv: (-kv[1], kv[0]))[:STORED_TERMS]
    return Signature(tuple(term_hash(w) for w, _ in top), tuple(round(x / norm, 6) for _, x in top))


def similarity(a: Signature, b: Signature) -> float:
    """Cosine of the two TF-IDF vectors (over the stored words), 0..1."""
    if not a or not b:
        return 0.0
    other = dict(zip(b.hashes, b.weights, strict=True))
    total = sum(w * other.get(h, 0.0) for h, w in zip(a.hashes, a.weights, strict=True))
    return max(0.0, min(1.0, total))


def packed_similarities(a: Signature, packed: Sequence[bytes]) -> list[float]:
    """`similarity(a, unpack(p))` for each stored row, in a few array operations: the
    look-up scores its ~40 candidates at once, where unpacking and scoring them one by one
    in Python took a millisecond and more."""
    sizes = np.array([len(p) // 12 for p in packed], dtype=np.int64)
    if not a or not sizes.any():
        return [0.0] * len(packed)
    order = np.argsort(np.asarray(a.hashes, dtype=np.int64))
    mine = np.asarray(a.hashes, dtype=np.int64)[order]
    my_weights = np.asarray(a.weights, dtype=np.float64)[order]
    hashes = np.concatenate(
        [np.frombuffer(p, dtype="<i8", count=n) for p, n in zip(packed, sizes, strict=True)]
    )
    weights = np.concatenate(
        [
            np.frombuffer(p, dtype="<f4", count=n, offset=8 * n)
            for p, n in zip(packed, sizes, strict=True)
        ]
    )
    at = np.minimum(np.searchsorted(mine, hashes), len(mine) - 1)
    products = np.where(mine[at] == hashes, my_weights[at] * weights, 0.0)
    # Sums per row; a row with no terms gets 0 (reduceat would give it its neighbour's).
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    totals = np.add.reduceat(np.append(products, 0.0), starts)
    totals[sizes == 0] = 0.0
    return [float(x) for x in np.clip(totals, 0.0, 1.0)]


def pack(sig: Signature) -> bytes:
    """Compact storage: the hashes (int64) then the weights (float32)."""
    return (
        np.asarray(sig.hashes, dtype="<i8").tobytes()
        + np.asarray(sig.weights, dtype="<f4").tobytes()
    )


def unpack(data: bytes) -> Signature:
    n = len(data) // 12
    hashes = np.frombuffer(data, dtype="<i8", count=n)
    weights = np.frombuffer(data, dtype="<f4", count=n, offset=8 * n)
    return Signature(tuple(int(h) for h in hashes), tuple(float(w) for w in weights))


def _words(text: str) -> list[str]:
    import jieba

    return [
        w
        for w in (t.strip() for t in _cut(jieba, text))
        if len(w) > 1 and _WORDISH.search(w) and w not in STOP_WORDS
    ]


def _cut(jieba: Any, text: str) -> list[str]:
    if not jieba.dt.initialized:
        with _lock:
            jieba.setLogLevel(60)
            jieba.initialize()
    return list(jieba.cut(text))


def _load_idf() -> tuple[dict[str, float], float]:
    global _idf
    if _idf is None:
        with _lock:
            if _idf is None:
                _idf = _read_idf()
    return _idf


def _read_idf() -> tuple[dict[str, float], float]:
    import jieba

    # Read directly: importing jieba.analyse leaves the file open (a ResourceWarning).
    path = Path(jieba.__file__).parent / "analyse" / "idf.txt"
    table: dict[str, float] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            word, _, value = line.rstrip("\n").partition(" ")
            if value:
                table[word] = float(value)
    values = sorted(table.values())
    return table, values[len(values) // 2]
