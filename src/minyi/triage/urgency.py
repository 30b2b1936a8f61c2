"""Urgency levels and emergency detection for an appeal's text.

12345 is not an emergency line (SPEC §2.6): a fire, a gas leak, a crime in progress or a
person hurt is handed over at once to 110 / 119 / 120 / 122 / the gas emergency line. The
rest of the work is dispatched within 30 minutes (urgent), 2 hours (fast) or 8 hours
(ordinary) (SPEC §2.5). The level comes from an editable rule list
(`data/urgency_rules.csv`, "rules as data" in STYLE.md) and from the catalogue item's own
default, whichever is higher; every decision carries the rule ids and the phrases that
matched, and the matches that were cancelled and why, so staff can see the reasons and
overrule them.

Pure and stdlib-only: the rules are compiled once and `assess` does no I/O.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path


class UrgencyLevel(StrEnum):
    ORDINARY = "ordinary"
    FAST = "fast"
    URGENT = "urgent"
    EMERGENCY = "emergency"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def label_zh(self) -> str:
        return _LEVEL_ZH[self]


_LEVEL_ZH = {
    UrgencyLevel.ORDINARY: "一般",
    UrgencyLevel.FAST: "较急",
    UrgencyLevel.URGENT: "紧急",
    UrgencyLevel.EMERGENCY: "特急（需移交应急）",
}
_LINE_ZH = {"110": "110", "119": "119", "120": "120", "122": "122", "gas": "燃气抢修"}
_RANK = {
    UrgencyLevel.ORDINARY: 0,
    UrgencyLevel.FAST: 1,
    UrgencyLevel.URGENT: 2,
    UrgencyLevel.EMERGENCY: 3,
}

# The lines a ticket can be handed over to (tickets/effects.py EMERGENCY_LINES), in the
# order the agent should call them when several apply: fire and rescue first (119 also
# brings the ambulance), then the police, the ambulance, traffic police and the gas company.
LINE_PRIORITY: tuple[str, ...] = ("119", "110", "120", "122", "gas")

# How far around a match the cancelling words are looked for. Before a match: back to the
# start of its sentence, at most this many characters ("去年12月小区发生火灾", "一旦发生火灾").
# After: to the end of its clause only, so "着火了，如果再不来人" still counts as a fire.
WINDOW_BEFORE = 30
WINDOW_AFTER = 12
_GATE_LENGTH = 200

_SENTENCE_ENDS = frozenset("。!?;…\n")
_CLAUSE_ENDS = _SENTENCE_ENDS | frozenset(",:")
# CJK ideographs are left alone by NFKC and never combine with a neighbour, so only the runs
# between them need normalising; that halves the cost on Chinese text.
_NOT_HAN = re.compile("[^\u4e00-\u9fff]+")
_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
_LINE_BREAKS = "\n\x85\u2028\u2029"
# Deleted: every space NFKC leaves (tabs, spaces, "\r" of "\r\n") and invisible marks; line
# breaks become "\n", which ends a sentence like "。".
_BLANKS: dict[int, str | None] = {
    i: None for i in range(0x3001) if chr(i).isspace() and chr(i) not in _LINE_BREAKS
}
_BLANKS.update({ord(c): None for c in _INVISIBLE})
_BLANKS.update({ord(c): "\n" for c in _LINE_BREAKS})

_RULE_LEVELS = {"emergency", "urgent", "fast"}
_EXCLUDE = "exclude"
_SCOPES = ("near", "text")
_ID = re.compile(r"^[A-Z][A-Z0-9_]*$")
COLUMNS = ("rule_id", "level", "line", "pattern", "requires", "excludes", "scope", "note")


class RuleError(ValueError):
    """The rule list cannot be used; the message names the row and the column."""


@dataclass(frozen=True)
class Match:
    """One rule that fired: what staff see as the reason for the level."""

    rule_id: str
    level: UrgencyLevel
    line: str | None
    phrase: str
    note: str


@dataclass(frozen=True)
class Cancelled:
    """A rule whose words were found but that was cancelled, and by what."""

    rule_id: str
    phrase: str
    by: str
    cue: str


@dataclass(frozen=True)
class UrgencyAssessment:
    """The decision with its reasons: `level` is the highest of the fired rules and the
    item's default; `emergency_line` is the line to hand over to first (`emergency_lines`
    all of them, in calling order); `matched` and `cancelled` are what staff see;
    `rules_version` is stored with the ticket so the decision can be traced to the list."""

    level: UrgencyLevel
    emergency_line: str | None
    emergency_lines: tuple[str, ...]
    matched: tuple[Match, ...]
    cancelled: tuple[Cancelled, ...]
    item_default: UrgencyLevel | None
    rules_version: str

    @property
    def is_emergency(self) -> bool:
        return self.level is UrgencyLevel.EMERGENCY

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(m.rule_id for m in self.matched)

    def explain(self) -> list[str]:
        """Plain Chinese lines for the staff workbench: why this level, and what was set
        aside (the rule ids in brackets, to find the rule in the list)."""
        lines = [
            f"「{m.phrase}」→ {UrgencyLevel(m.level).label_zh}"
            f"{'，移交 ' + _LINE_ZH.get(m.line, m.line) if m.line else ''}（规则 {m.rule_id}）"
            for m in self.matched
        ]
        if self.item_default is not None and self.item_default.rank >= self.level.rank:
            lines.append(f"事项本身的默认紧急程度：{self.item_default.label_zh}")
        lines.extend(
            f"「{c.phrase}」不作依据：上下文「{c.cue}」表明并非正在发生（规则 {c.rule_id}，"
            f"由 {c.by} 排除）"
            for c in self.cancelled
        )
        return lines


@dataclass(frozen=True)
class _Exclusion:
    set_id: str
    scope: str
    regex: re.Pattern[str]
    unless: re.Pattern[str] | None


@dataclass(frozen=True)
class _Rule:
    rule_id: str
    level: UrgencyLevel
    line: str | None
    note: str
    regex: re.Pattern[str]
    first: frozenset[str] | None
    requires: re.Pattern[str] | None
    local: re.Pattern[str] | None
    near: tuple[_Exclusion, ...]
    text: tuple[_Exclusion, ...]


def normalise(text: str) -> str:
    """The form every pattern is written against: NFKC (full-width letters, digits and
    punctuation become half-width, so "，" is "," and "１１０" is "110"), lower case, no
    invisible characters, line breaks as sentence ends and no other whitespace (people type
    "着 火 了" and scraped text carries tabs and ideographic spaces)."""
    return _NOT_HAN.sub(_fold, text)


def _fold(run: re.Match[str]) -> str:
    return _fold_part(run.group())


# The runs are mostly the same few punctuation marks and numbers.
@lru_cache(maxsize=4096)
def _fold_part(part: str) -> str:
    if not part.isascii():
        part = unicodedata.normalize("NFKC", part)
    return part.casefold().translate(_BLANKS)


def _first_chars(pattern: str) -> frozenset[str] | None:
    """The characters a match of `pattern` can start with, when every top-level alternative
    starts with a plain character; None when that cannot be told (a group, a class, an
    escape or an optional first character), and the rule is then tried on every text."""
    firsts: set[str] = set()
    depth = 0
    at_start = True
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if at_start:
            following = pattern[i + 1 : i + 2]
            if c in "()[]\\.^$*+?{}|" or following in ("?", "*", "{"):
                return None
            firsts.add(c)
            at_start = False
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = pattern.index("]", i + 1) + 1 if "]" in pattern[i + 1 :] else len(pattern)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            at_start = True
        i += 1
    return frozenset(firsts) if firsts and not at_start else None


def _window(text: str, start: int, end: int) -> str:
    """Where the cancelling words of one match are looked for."""
    return text[_back(text, start, WINDOW_BEFORE) : _ahead(text, end, WINDOW_AFTER, _CLAUSE_ENDS)]


def _context(text: str, start: int, end: int) -> str:
    """Where a rule's required words are looked for: its sentence, both ways."""
    return text[
        _back(text, start, WINDOW_BEFORE) : _ahead(text, end, WINDOW_BEFORE, _SENTENCE_ENDS)
    ]


def _back(text: str, start: int, reach: int) -> int:
    lo = start
    limit = max(0, start - reach)
    while lo > limit and text[lo - 1] not in _SENTENCE_ENDS and not _is_stop(text, lo - 1):
        lo -= 1
    return lo


def _ahead(text: str, end: int, reach: int, stops: frozenset[str]) -> int:
    hi = end
    limit = min(len(text), end + reach)
    while hi < limit and text[hi] not in stops and not _is_stop(text, hi):
        hi += 1
    return hi


def _is_stop(text: str, i: int) -> bool:
    # A full stop typed as "." ends a sentence, but not inside "3.25" or "2.0".
    if text[i] != ".":
        return False
    return not (0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit())


class UrgencyRules:
    """A compiled rule list. Build it with `load_rules`; it is immutable and thread-safe."""

    def __init__(self, rows: Iterable[Mapping[str, str]], *, version: str) -> None:
        self.version = version
        self._rules = _compile(list(rows))

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self._rules)

    def assess(self, text: str, *, item_default: str | None = None) -> UrgencyAssessment:
        default = _parse_default(item_default)
        norm = normalise(text)
        matched: list[Match] = []
        cancelled: list[Cancelled] = []
        text_hits: dict[str, re.Match[str] | None] = {}
        # A rule whose first characters are all absent cannot match, so on a short text most
        # rules are skipped without a scan; on a long one the set costs more than it saves.
        present = set(norm) if len(norm) <= _GATE_LENGTH else None
        for rule in self._rules:
            if present is None or rule.first is None or not rule.first.isdisjoint(present):
                self._evaluate(rule, norm, text_hits, matched, cancelled)
        level = default or UrgencyLevel.ORDINARY
        for m in matched:
            if m.level.rank > level.rank:
                level = m.level
        lines = tuple(ln for ln in LINE_PRIORITY if any(m.line == ln for m in matched))
        return UrgencyAssessment(
            level=level,
            emergency_line=lines[0] if lines else None,
            emergency_lines=lines,
            matched=tuple(matched),
            cancelled=tuple(cancelled),
            item_default=default,
            rules_version=self.version,
        )

    @staticmethod
    def _evaluate(
        rule: _Rule,
        norm: str,
        text_hits: dict[str, re.Match[str] | None],
        matched: list[Match],
        cancelled: list[Cancelled],
    ) -> None:
        first_cancel: Cancelled | None = None
        for hit in rule.regex.finditer(norm):
            if rule.requires is not None:
                context = _context(norm, hit.start(), hit.end())
                if rule.requires.search(context) is None:
                    continue
            phrase = hit.group()
            window = _window(norm, hit.start(), hit.end())
            reason = _cancelled_by(rule, norm, window, text_hits)
            if reason is None:
                matched.append(Match(rule.rule_id, rule.level, rule.line, phrase, rule.note))
                return
            if first_cancel is None:
                first_cancel = Cancelled(rule.rule_id, phrase, reason[0], reason[1])
        if first_cancel is not None:
            cancelled.append(first_cancel)


def _cancelled_by(
    rule: _Rule, norm: str, window: str, text_hits: dict[str, re.Match[str] | None]
) -> tuple[str, str] | None:
    if rule.local is not None and (cue := rule.local.search(window)) is not None:
        return ("excludes", cue.group())
    for ex in rule.near:
        cues = list(ex.regex.finditer(window))
        if not cues:
            continue
        last = cues[-1]
        # The nearest word wins: "上个月着火了" is past, "上个月装的，现在又着火了" is not.
        if ex.unless is not None and ex.unless.search(window, last.end()) is not None:
            continue
        return (ex.set_id, last.group())
    for ex in rule.text:
        if ex.set_id not in text_hits:
            text_hits[ex.set_id] = ex.regex.search(norm)
        cue = text_hits[ex.set_id]
        if cue is not None and not (ex.unless is not None and ex.unless.search(window)):
            return (ex.set_id, cue.group())
    return None


def _parse_default(value: str | None) -> UrgencyLevel | None:
    if value is None or value == "":
        return None
    try:
        return UrgencyLevel(value)
    except ValueError:
        allowed = ", ".join(level.value for level in UrgencyLevel)
        raise ValueError(f"item_default must be one of {allowed}, not {value!r}") from None


def _regex(source: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except re.error as exc:
        raise RuleError(f"{where}: not a valid regular expression ({exc})") from None


def _compile(rows: list[Mapping[str, str]]) -> tuple[_Rule, ...]:
    sets: dict[str, _Exclusion] = {}
    pending: list[tuple[int, Mapping[str, str]]] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):
        rule_id = (row.get("rule_id") or "").strip()
        level = (row.get("level") or "").strip()
        where = f"row {number} ({rule_id or 'no id'})"
        if not _ID.match(rule_id):
            raise RuleError(f"{where}: rule_id must be upper-case letters, digits and _")
        if rule_id in seen:
            raise RuleError(f"{where}: rule_id is used twice")
        seen.add(rule_id)
        pattern = (row.get("pattern") or "").strip()
        if not pattern:
            raise RuleError(f"{where}: pattern is empty")
        if level == _EXCLUDE:
            if (row.get("requires") or "").strip():
                raise RuleError(f"{where}: requires belongs to rules, not to exclude rows")
            scope = (row.get("scope") or "near").strip() or "near"
            if scope not in _SCOPES:
                raise RuleError(f"{where}: scope must be near or text")
            unless = (row.get("excludes") or "").strip()
            sets[rule_id] = _Exclusion(
                rule_id,
                scope,
                _regex(pattern, f"{where} pattern"),
                _regex(unless, f"{where} excludes") if unless else None,
            )
        elif level in _RULE_LEVELS:
            pending.append((number, row))
        else:
            raise RuleError(f"{where}: level must be emergency, urgent, fast or exclude")
    rules: list[_Rule] = []
    for number, row in pending:
        rules.append(_compile_rule(number, row, sets))
    if not rules:
        raise RuleError("the rule list has no emergency, urgent or fast rule")
    return tuple(rules)


def _compile_rule(number: int, row: Mapping[str, str], sets: dict[str, _Exclusion]) -> _Rule:
    rule_id = row["rule_id"].strip()
    level = UrgencyLevel(row["level"].strip())
    where = f"row {number} ({rule_id})"
    line = (row.get("line") or "").strip() or None
    if level is UrgencyLevel.EMERGENCY and line not in LINE_PRIORITY:
        raise RuleError(f"{where}: an emergency needs a line: {', '.join(LINE_PRIORITY)}")
    if level is not UrgencyLevel.EMERGENCY and line is not None:
        raise RuleError(f"{where}: only an emergency has a line")
    if (row.get("scope") or "").strip():
        raise RuleError(f"{where}: scope belongs to exclude rows only")
    requires = (row.get("requires") or "").strip()
    local: list[str] = []
    near: list[_Exclusion] = []
    text: list[_Exclusion] = []
    for token in (row.get("excludes") or "").split():
        if token.startswith("@"):
            ref = sets.get(token[1:])
            if ref is None:
                raise RuleError(f"{where}: excludes names {token}, which is no exclude row")
            (near if ref.scope == "near" else text).append(ref)
        else:
            _regex(token, f"{where} excludes")
            local.append(token)
    return _Rule(
        rule_id=rule_id,
        level=level,
        line=line,
        note=(row.get("note") or "").strip(),
        regex=_regex(row["pattern"].strip(), f"{where} pattern"),
        first=_first_chars(row["pattern"].strip()),
        requires=_regex(requires, f"{where} requires") if requires else None,
        local=re.compile("|".join(f"(?:{t})" for t in local)) if local else None,
        near=tuple(near),
        text=tuple(text),
    )


def rules_from_csv(data: str) -> UrgencyRules:
    """Rules from the CSV text (header: rule_id, level, line, pattern, requires, excludes,
    scope, note); the version is a hash of the text, stored with every decision."""
    reader = csv.DictReader(io.StringIO(data))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RuleError(f"the rule list lacks the column(s) {', '.join(missing)}")
    version = hashlib.sha256(data.encode("utf-8")).hexdigest()[:12]
    return UrgencyRules(reader, version=version)


def load_rules(path: Path | None = None) -> UrgencyRules:
    """The rule list at `path`, or the one shipped with the package."""
    if path is None:
        return _default_rules()
    return rules_from_csv(path.read_text(encoding="utf-8-sig"))


@lru_cache(maxsize=1)
def _default_rules() -> UrgencyRules:
    data = resources.files("minyi.triage").joinpath("data", "urgency_rules.csv")
    return rules_from_csv(data.read_text(encoding="utf-8-sig"))


def assess(
    text: str, *, item_default: str | None = None, rules: UrgencyRules | None = None
) -> UrgencyAssessment:
    """The urgency of one appeal: the highest of the matching rules' levels and the
    catalogue item's default level, with the emergency line to hand over to, if any."""
    return (rules or _default_rules()).assess(text, item_default=item_default)
