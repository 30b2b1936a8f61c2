"""The real messages and replies the demo's tickets are made of, read at run time.

The texts are personal data: they are read from `MINYI_SHARED_DATA`, put into tickets
through intake, and never logged or copied into the repository.

Only `train.csv` gives ticket texts (with its labels, which pick the catalogue subtree):
`test.csv` is kept out of the demo database so that no classifier ever learns from it by
accident. The contest's messages come from a whole province whose cities are masked as
letters (B市, K9县 …); the demo re-masks the other cities' letters onto A市's districts,
so that the messages read as A市's, except the ones planned for a transfer to another city,
which keep the city they name. The three clusters the contest teams agree on in
`hotspot_messages.csv` (丽发新城's mixing plant, 伊景园滨河苑's bundled parking spaces,
the A市 talent subsidy) give the bursts of near-duplicates that the centre merges.
"""

from __future__ import annotations

import csv
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

TITLE_MAX = 200
TEXT_MAX = 10_000
REPLY_MAX = 3_000

_SPACE = re.compile(r"\s+")  # covers the scrape residue: \n\t\t\t, \u3000, \xa0
# Another city of the province, or a numbered district or county of one (never a bare
# "B区", which is as often a block of an estate).
_OTHER_PLACE = re.compile(r"(?<![A-Za-z0-9])([B-Z])(\d{0,2})([市区县])")
_OTHER_CITY = re.compile(r"(?<![A-Za-z0-9])([B-Z]\d{0,2}市)")
_SIGNED_DATE = re.compile(r"\s*\d{4}年\d{1,2}月\d{1,2}日\s*$")


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    text: str
    label: str  # the contest's first-level label: the crosswalk maps it to DB44 subtrees
    # The other city its title names (a transfer candidate), with the text as written.
    other_city: str | None = None
    raw_title: str = ""
    raw_text: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    title: str  # the message's title, to pick a reply that fits
    text: str


@dataclass(frozen=True, slots=True)
class Burst:
    name: str
    label: str
    messages: tuple[Message, ...]


# (name in the text, one of these words too, contest label)
BURST_CLUSTERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("丽发新城", ("搅拌站",), "环境保护"),
    ("伊景园滨河苑", ("车位",), "城乡建设"),
    ("人才", ("补贴", "补助"), "劳动和社会保障"),
)


def clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def remask(text: str) -> str:
    """Put the province's other cities onto A市: "K市" → "A市", a numbered district or
    county onto one of A市's (the same one every time, so a message stays consistent)."""

    def swap(match: re.Match[str]) -> str:
        letter, number, suffix = match.groups()
        if not number:
            return "A市" if suffix == "市" else match.group(0)
        pick = zlib.crc32(f"{letter}{number}".encode())
        if suffix == "区":
            return f"A{1 + pick % 6}区"
        if suffix == "县":
            return f"A{7 + pick % 2}县"
        return "A9市"

    return _OTHER_PLACE.sub(swap, text)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = cut.rfind("。")
    return cut[: end + 1] if end > limit // 2 else cut


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_messages(shared_data: Path) -> list[Message]:
    """Every labelled training message, in file order; a message without its raw body (the
    file kept only a segmented text for some) is its title alone, as a short call would be."""
    messages: list[Message] = []
    for row in _rows(shared_data / "appeals" / "train.csv"):
        title, body, label = clean(row["title"]), clean(row["body"]), row["label"].strip()
        if not title or not label:
            continue
        found = _OTHER_CITY.search(title)
        messages.append(
            Message(
                title=_shorten(remask(title), TITLE_MAX),
                text=_shorten(remask(body or title), TEXT_MAX),
                label=label,
                other_city=found.group(1) if found else None,
                raw_title=_shorten(title, TITLE_MAX) if found else "",
                raw_text=_shorten(body or title, TEXT_MAX) if found else "",
            )
        )
    return messages


def read_replies(shared_data: Path) -> list[Reply]:
    replies: list[Reply] = []
    for row in _rows(shared_data / "appeals" / "replies.csv"):
        text = _SIGNED_DATE.sub("", clean(row["答复意见"]))
        title = clean(row["留言主题"])
        if len(text) >= 20 and title:
            replies.append(Reply(remask(title), _shorten(remask(text), REPLY_MAX)))
    return replies


def read_bursts(shared_data: Path) -> list[Burst]:
    """The agreed hotspot clusters, each message once, in the file's order."""
    rows = _rows(shared_data / "appeals" / "hotspot_messages.csv")
    bursts: list[Burst] = []
    for name, words, label in BURST_CLUSTERS:
        found: list[Message] = []
        for row in rows:
            title, body = clean(row["留言主题"]), clean(row["留言详情"])
            whole = title + body
            if title and name in whole and any(w in whole for w in words):
                found.append(
                    Message(
                        _shorten(remask(title), TITLE_MAX),
                        _shorten(remask(body or title), TEXT_MAX),
                        label,
                    )
                )
        bursts.append(Burst(name, label, tuple(found)))
    return bursts
