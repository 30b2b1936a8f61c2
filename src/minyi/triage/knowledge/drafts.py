"""Draft knowledge entries from past replies: a reply that units sent, nearly word for word,
to several messages is a templated answer, and the messages' subjects are the ways people
ask for it.

Pure apart from `read_replies`. Replies are compared after stripping what differs between
copies of one template (the greeting with the user's handle, dates, numbers, punctuation);
two replies are near-identical when the cosine of their character 2–3-gram TF-IDF vectors is
at least `SAME_REPLY` (0.85: below it, on replies.csv, pairs stop being the same text with
different dates and become different answers on one topic). Drafts are only proposals: a
person approves them, and one that names a person is flagged and cannot be approved.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer

from minyi.triage.knowledge.domain import privacy_findings

SAME_REPLY = 0.85
MAX_QUESTIONS = 20

_HANDLE = re.compile(r"(网友|来信同志|来信人|尊敬的网友)?[“\"]?(UU\d+|[A-Z]\d{6,})[”\"]?")
_DATE = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日")
_GREETING = re.compile(
    r"^(尊敬的)?(网友|来信同志|市民朋友|各位网友|您好|你好)?[：:，,！!\s]*(您好|你好)?[！!，,：:。\s]*"
)
_TRAILING_DATE = re.compile(r"[，,。\s]*\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?\s*$")
_ACK = re.compile(r"收悉|已转|转交|转至|转给|已获悉|已阅|敬请关注|将及时(反馈|回复)")


@dataclass(frozen=True)
class ReplyRow:
    message_id: str
    subject: str
    message_time: str
    reply: str
    reply_time: str

    @property
    def time(self) -> str:
        """When the reply existed: its own time, else the message's (for the time split)."""
        return self.reply_time or self.message_time


@dataclass(frozen=True)
class DraftCandidate:
    questions: tuple[str, ...]
    answer: str
    message_ids: tuple[str, ...]
    privacy_flags: tuple[str, ...]
    acknowledgement: bool


def read_replies(path: Path) -> list[ReplyRow]:
    """replies.csv (附件4): 留言编号,留言用户,留言主题,留言时间,留言详情,答复意见,答复时间.
    The user column and the message body are not kept: drafts need neither."""
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            ReplyRow(
                message_id=row["留言编号"].strip(),
                subject=_clean(row["留言主题"]),
                message_time=row["留言时间"].strip(),
                reply=row["答复意见"] or "",
                reply_time=(row.get("答复时间") or "").strip(),
            )
            for row in csv.DictReader(fh)
        ]


def _clean(text: str) -> str:
    # Width folding is left to matching: an answer keeps the punctuation its unit wrote.
    return re.sub(r"\s+", " ", (text or "").replace("\u3000", " ")).strip()


def clean_reply(text: str) -> str:
    """The reply as an answer anyone may read: no greeting to one user, no signature date."""
    text = _clean(text)
    text = _HANDLE.sub("", text)
    text = _GREETING.sub("", text, count=1)
    text = _TRAILING_DATE.sub("", text).strip(" ，,")
    return text if not text or text.endswith(("。", "！", "!", "？")) else text + "。"


def reply_key(text: str) -> str:
    """What two copies of one template share: the text without greeting, dates, numbers."""
    text = _DATE.sub("", unicodedata.normalize("NFKC", clean_reply(text)))
    text = re.sub(r"\d+", "0", text)
    return re.sub(r"[^\w]", "", text)


def is_acknowledgement(answer: str) -> bool:
    """'Received, passed on to the bureau': a receipt, not an answer. Served as an instant
    answer it would close the appeal while claiming it was passed on, so never drafted."""
    key = reply_key(answer)
    return len(key) <= 60 and bool(_ACK.search(answer))


def key_vectors(keys: Sequence[str]) -> csr_matrix:
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True)
    return csr_matrix(vectorizer.fit_transform([k or "_" for k in keys]))


def cluster(keys: Sequence[str], threshold: float = SAME_REPLY) -> list[list[int]]:
    """Groups of near-identical replies (connected components of the ≥ threshold graph),
    largest first; singletons left out."""
    if not keys:
        return []
    vectors = key_vectors(keys)
    similar = vectors @ vectors.T
    similar.data[similar.data < threshold] = 0
    similar.eliminate_zeros()
    _, labels = connected_components(similar, directed=False)
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), []).append(i)
    found = [g for g in groups.values() if len(g) >= 2 and any(keys[i] for i in g)]
    return sorted(found, key=lambda g: (-len(g), g[0]))


def _medoid(group: Sequence[int], vectors: csr_matrix) -> int:
    block = vectors[list(group)]
    scores = np.asarray((block @ block.T).sum(axis=1)).ravel()
    return group[int(np.argmax(scores))]


def propose(rows: Sequence[ReplyRow], threshold: float = SAME_REPLY) -> list[DraftCandidate]:
    """One candidate per recurring reply: the most central copy as the answer, the
    messages' subjects (most frequent first) as question variants."""
    keys = [reply_key(r.reply) for r in rows]
    vectors = key_vectors(keys)
    candidates: list[DraftCandidate] = []
    for group in cluster(keys, threshold):
        answer = clean_reply(rows[_medoid(group, vectors)].reply)
        subjects = Counter(rows[i].subject for i in group if rows[i].subject)
        questions = tuple(s for s, _ in subjects.most_common(MAX_QUESTIONS))
        if not questions or not answer:
            continue
        candidates.append(
            DraftCandidate(
                questions=questions,
                answer=answer,
                message_ids=tuple(rows[i].message_id for i in group),
                privacy_flags=tuple(privacy_findings(answer, *questions)),
                acknowledgement=is_acknowledgement(answer),
            )
        )
    return candidates


def split_by_time(
    rows: Iterable[ReplyRow], earlier_share: float = 0.7
) -> tuple[list[ReplyRow], list[ReplyRow]]:
    ordered = sorted(rows, key=lambda r: (_when(r.time), r.message_id))
    cut = int(len(ordered) * earlier_share)
    return ordered[:cut], ordered[cut:]


def _when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return datetime.min
