"""Pure rules of the knowledge base: what may be served, to whom, and how a question finds
its entry.

Only an approved entry inside its validity window, scoped to the appeal's area or above it,
is ever served (SPEC §2 step 5: a consultation the knowledge base can answer is answered at
once, 秒答); and never one that speaks of one person's case, which is checked at drafting,
before approval and again before serving. Matching is TF-IDF over character n-grams of the
question variants with cosine similarity: short, formulaic Chinese questions share their
characters far more reliably than their jieba words (a one-character segmentation
difference breaks a word match), and it needs no trained model beyond the entries.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from minyi.triage.normalise import normalise as normalise_text

# Below this cosine nothing is served: a wrong instant answer closes a citizen's appeal
# unanswered, a missed one only costs a dispatcher a minute. Chosen on the earlier 70 % of
# replies.csv (benchmarks/knowledge.py prints the curve).
DEFAULT_THRESHOLD = 0.55
TOP_K = 3
# A question is asked in its first lines; matching the rest of a long letter costs time
# (OpenCC, n-grams) and only dilutes the cosine.
MAX_QUERY_CHARS = 300


class EntryStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    RETIRED = "retired"

    @property
    def label_zh(self) -> str:
        return {"draft": "草稿", "approved": "已审核", "retired": "已停用"}[self.value]


class NoticeKind(StrEnum):
    WATER = "water_outage"  # 停水
    POWER = "power_outage"  # 停电
    GAS = "gas_outage"  # 燃气停供
    ROAD_WORKS = "road_works"  # 道路施工

    @property
    def label_zh(self) -> str:
        return NOTICE_LABEL_ZH[self]


NOTICE_LABEL_ZH: dict[NoticeKind, str] = {
    NoticeKind.WATER: "停水",
    NoticeKind.POWER: "停电",
    NoticeKind.GAS: "燃气停供",
    NoticeKind.ROAD_WORKS: "道路施工",
}

# What a citizen writes when a notice's outage is what they ask about.
NOTICE_WORDS: dict[NoticeKind, re.Pattern[str]] = {
    NoticeKind.WATER: re.compile(
        r"停水|断水|没水|没有水|无水|不来水|没来水|水停了|水压(太)?低|自来水.{0,4}(停|断|没)"
    ),
    NoticeKind.POWER: re.compile(r"停电|断电|没电|没有电|跳闸|电停了|来电"),
    NoticeKind.GAS: re.compile(
        r"停气|断气|没气|没有气|燃气.{0,4}(停|断|没)|天然气.{0,4}(停|断|没)|煤气.{0,4}(停|断|没)"
    ),
    NoticeKind.ROAD_WORKS: re.compile(
        r"封路|修路|道路施工|路面施工|挖路|绕行|围挡|断路|路.{0,4}封"
    ),
}


class OfferOutcome(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"


# --- normalisation ------------------------------------------------------------------------


def normalise(text: str) -> str:
    """The triage-wide normalisation (OpenCC, width, scrape residue), empty for None."""
    return normalise_text(text or "")


# --- privacy --------------------------------------------------------------------------------

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤欧阳易文"
)
_PRIVACY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "person_name",
        re.compile(
            rf"[{_SURNAMES}][\u4e00-\u9fa5]?(先生|女士|小姐|同志|师傅|老师|阿姨|大爷|大妈)"
            rf"|[{_SURNAMES}]某(?!些|种|个|处|地|年|月|日|天|一|项|单位|时|方面|段|部门)"
        ),
    ),
    ("id_number", re.compile(r"(?<!\d)(\d{17}[\dXx]|\d{15})(?![\dXx])")),
    ("phone", re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")),
    (
        "one_case",
        re.compile(
            r"您家|你家|贵府|您本人|你本人|您的?孩子|你的?孩子|您的?小孩|您的?(父亲|母亲|爱人|丈夫|妻子)"
            r"|信访人|当事人|来访人|投诉人[\u4e00-\u9fa5]"
        ),
    ),
    (
        "house_number",
        re.compile(r"\d+\s*(栋|幢|号楼|单元)\s*\d+|\d+\s*(室|号房)|\d+-\d+-\d+"),
    ),
    ("user_handle", re.compile(r"(?<![A-Za-z])(UU\d{3,}|[A-Z]\d{6,})")),
)
PRIVACY_LABEL_ZH: dict[str, str] = {
    "person_name": "含具体人名或称谓",
    "id_number": "含身份证号",
    "phone": "含手机号码",
    "one_case": "针对个人的个案表述",
    "house_number": "含具体门牌号",
    "user_handle": "含网友账号",
}


def privacy_findings(*texts: str) -> list[str]:
    """The kinds of personal detail found (codes only, never the matched text, which would
    carry the personal data into logs and responses)."""
    found: list[str] = []
    for text in texts:
        folded = unicodedata.normalize("NFKC", text or "")
        for code, pattern in _PRIVACY_PATTERNS:
            if code not in found and pattern.search(folded):
                found.append(code)
    return found


# --- serving rules ----------------------------------------------------------------------------


def is_valid_at(valid_from: datetime | None, valid_to: datetime | None, now: datetime) -> bool:
    """Half-open window [from, to): an entry ending at midnight is not served at midnight."""
    return (valid_from is None or valid_from <= now) and (valid_to is None or now < valid_to)


def in_scope(scope_area_id: int | None, area_chain: Collection[int]) -> bool:
    """A city-wide entry (no area) answers everyone; an area's entry answers appeals located
    in that area or below it. `area_chain` is the appeal's area and all its ancestors; an
    appeal without a place has an empty chain and gets city-wide answers only."""
    return scope_area_id is None or scope_area_id in area_chain


def notice_kinds_in(text: str) -> list[NoticeKind]:
    folded = normalise(text)
    return [kind for kind, pattern in NOTICE_WORDS.items() if pattern.search(folded)]


def source_line(title: str, url: str | None) -> str:
    return f"{title}（{url}）" if url else title


def answer_with_source(answer: str, source: str) -> str:
    """The reply a citizen receives: the answer, then where it comes from."""
    return f"{answer.strip()}\n\n来源：{source}" if source else answer.strip()


# --- matching ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexDoc:
    key: int
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Hit:
    key: int
    score: float
    question: str  # the variant that matched best, so people can see why


def make_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(1, 3),
        sublinear_tf=True,
        preprocessor=normalise,
        dtype=np.float32,
    )


class KnowledgeIndex:
    """Question variants of many entries in one TF-IDF space; an entry scores the cosine of
    its best variant."""

    def __init__(self, docs: Sequence[IndexDoc]) -> None:
        self.keys: list[int] = [d.key for d in docs]
        self._variants: list[str] = []
        owner: list[int] = []
        for position, doc in enumerate(docs):
            for question in doc.questions:
                if question.strip():
                    self._variants.append(question)
                    owner.append(position)
        self._owner = np.asarray(owner, dtype=np.int64)
        self._variants_of: list[list[int]] = [[] for _ in docs]
        for variant, position in enumerate(owner):
            self._variants_of[position].append(variant)
        self._vectorizer: TfidfVectorizer | None = None
        if self._variants:
            self._vectorizer = make_vectorizer()
            self._matrix = self._vectorizer.fit_transform(self._variants).T.tocsr()

    def __len__(self) -> int:
        return len(self.keys)

    def search(
        self, query: str, *, k: int = TOP_K, eligible: Collection[int] | None = None
    ) -> list[Hit]:
        """The k best entries (by best variant), highest first; `eligible` limits the keys
        considered (valid, in scope) without rebuilding the index."""
        if self._vectorizer is None or not query.strip():
            return []
        vector = self._vectorizer.transform([query[:MAX_QUERY_CHARS]])
        scores = np.asarray((vector @ self._matrix).todense()).ravel()
        best = np.full(len(self.keys), -1.0, dtype=np.float64)
        np.maximum.at(best, self._owner, scores)
        hits: list[Hit] = []
        for position in np.argsort(-best, kind="stable"):
            key = self.keys[int(position)]
            if best[position] < 0 or (eligible is not None and key not in eligible):
                continue
            variants = self._variants_of[int(position)]
            variant = variants[int(np.argmax(scores[variants]))]
            hits.append(Hit(key, float(best[position]), self._variants[variant]))
            if len(hits) == k:
                break
        return hits


def confident(hits: Sequence[Hit], threshold: float = DEFAULT_THRESHOLD) -> Hit | None:
    return hits[0] if hits and hits[0].score >= threshold else None
