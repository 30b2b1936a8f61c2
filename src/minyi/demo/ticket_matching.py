"""Matching a message to a catalogue item, a place and a real reply, simply (triage will do
better): shared words, weighted by how few items or replies use them. Pure."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from minyi.demo.texts import Reply

_STOP_TERMS = frozenset(
    {"其他", "管理", "服务", "问题", "工作", "相关", "事务", "行为", "情况", "事项", "业务"}
)
_SPLIT = re.compile(r"[、，,/（）()和及与]")
# A shared word worth this much (a two-character word no other item has) is enough to pick
# an item; weaker evidence only points to the group, whose "other" item is taken.
STRONG = 2.0


@dataclass(frozen=True, slots=True)
class Leaf:
    path: str
    name: str
    terms: tuple[str, ...]  # words whose presence in a text points to this item


def leaf_terms(name: str, keywords: Sequence[str]) -> tuple[str, ...]:
    """The item's name, its parts, their two-character words and its keywords."""
    terms: list[str] = [name, *keywords]
    for part in _SPLIT.split(name):
        if len(part) >= 2:
            terms.append(part)
            terms.extend(part[i : i + 2] for i in range(len(part) - 1))
    seen: dict[str, None] = {}
    for term in terms:
        if len(term) >= 2 and term not in _STOP_TERMS:
            seen.setdefault(term)
    return tuple(seen)


class ItemChooser:
    """For each label, the leaves of the subtrees the crosswalk gives it (main, then other)."""

    def __init__(self, leaves: Mapping[str, tuple[tuple[Leaf, ...], tuple[Leaf, ...]]]) -> None:
        self.leaves = leaves
        self.weights: dict[str, dict[str, float]] = {}
        self.others: dict[str, str] = {}  # group path → its "other" (…99) leaf
        for label, (primary, secondary) in leaves.items():
            df: dict[str, int] = {}
            for leaf in (*primary, *secondary):
                for term in leaf.terms:
                    df[term] = df.get(term, 0) + 1
                group, _, code = leaf.path.rpartition("/")
                if code.endswith("99"):
                    self.others[group] = leaf.path
            self.weights[label] = {t: len(t) / n for t, n in df.items()}

    def choose(self, label: str, text: str, rng: random.Random) -> str:
        """The leaf whose words the text shares most; on weak evidence its group's "other"
        item; with nothing shared, an "other" item of the label's main subtrees."""
        if label not in self.leaves:
            label = sorted(self.leaves)[0]
        primary, secondary = self.leaves[label]
        weights = self.weights[label]
        best: list[str] = []
        top = 0.0
        for leaf in (*primary, *secondary):
            score = sum(weights[t] for t in leaf.terms if t in text)
            if score > top + 1e-9:
                best, top = [leaf.path], score
            elif score > 0 and abs(score - top) <= 1e-9:
                best.append(leaf.path)
        if not best:
            best = [leaf.path for leaf in primary if leaf.path.endswith("99")] or [
                leaf.path for leaf in primary
            ]
            return best[rng.randrange(len(best))]
        chosen = best[rng.randrange(len(best))]
        if top < STRONG:
            return self.others.get(chosen.rpartition("/")[0], chosen)
        return chosen


class PlaceFinder:
    """The most precise known place a text names (deepest area, then longest name)."""

    def __init__(self, places: Sequence[tuple[str, str]]) -> None:
        self.by_start: dict[str, list[tuple[str, str]]] = {}
        for name, code in places:
            if len(name) >= 3:
                self.by_start.setdefault(name[:2], []).append((name, code))
        for candidates in self.by_start.values():
            candidates.sort(key=lambda nc: (-len(nc[0]), nc[1]))

    def find(self, text: str) -> str | None:
        best: tuple[int, int, int] | None = None
        found: str | None = None
        for i in range(len(text) - 2):
            for name, code in self.by_start.get(text[i : i + 2], ()):
                if text.startswith(name, i):
                    rank = (code.count("-"), len(name), -i)
                    if best is None or rank > best:
                        best, found = rank, code
        return found


class ReplyFinder:
    """Real replies ranked by the two-character words their message's title shares."""

    def __init__(self, replies: Sequence[Reply]) -> None:
        self.replies = list(replies)
        self.index: dict[str, list[int]] = {}
        for i, reply in enumerate(self.replies):
            for gram in sorted(bigrams(reply.title)):
                self.index.setdefault(gram, []).append(i)

    def best(self, title: str, k: int, rng: random.Random) -> tuple[str, ...]:
        if not self.replies:
            return ()
        votes: dict[int, int] = {}
        for gram in sorted(bigrams(title)):
            postings = self.index.get(gram, ())
            if len(postings) > len(self.replies) // 20:
                continue  # too common to tell replies apart
            for i in postings:
                votes[i] = votes.get(i, 0) + 1
        ranked = sorted(votes, key=lambda i: (-votes[i], i))[:k]
        while len(ranked) < k:
            ranked.append(rng.randrange(len(self.replies)))
        return tuple(self.replies[i].text for i in ranked)


def bigrams(text: str) -> set[str]:
    cjk = re.sub(r"[^\u4e00-\u9fff]", "", text)
    return {cjk[i : i + 2] for i in range(len(cjk) - 1)}
