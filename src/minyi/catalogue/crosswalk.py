"""The crosswalk from the contest's first-level labels to the DB44 subtrees they cover.

The real messages carry the 2020 contest's labels (taxonomy.csv: 15 first-level labels, 7
in use); the catalogue is DB44/T 2479-2024. The two trees cut the world differently
(the contest files 公共汽车 and 安全生产 under 城乡建设; DB44 has them under 交通运输 and
公共安全), so a label maps to several subtrees: `primary` ones are where most of its
messages belong, `secondary` ones where some do. Triage searches these subtrees for the
finest item. The table is data (`data/crosswalk.csv`), not code.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources


class Strength(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"


@dataclass(frozen=True, slots=True)
class CrosswalkEntry:
    contest_label: str
    db44_path: str
    strength: Strength
    note: str


@lru_cache(maxsize=1)
def load_crosswalk() -> tuple[CrosswalkEntry, ...]:
    text = resources.files("minyi.catalogue").joinpath("data/crosswalk.csv").read_text("utf-8")
    return tuple(
        CrosswalkEntry(
            contest_label=row["contest_label"],
            db44_path=row["db44_path"],
            strength=Strength(row["strength"]),
            note=row["note"],
        )
        for row in csv.DictReader(text.splitlines())
    )


def subtrees_for(label: str, *, include_secondary: bool = True) -> list[str]:
    """DB44 path prefixes (in the codes-joined-by-'/' form) a contest label covers."""
    return [
        to_item_path(e.db44_path)
        for e in load_crosswalk()
        if e.contest_label == label and (include_secondary or e.strength is Strength.PRIMARY)
    ]


def labels() -> list[str]:
    return sorted({e.contest_label for e in load_crosswalk()})


def to_item_path(code: str) -> str:
    """'0402' → '04/0402', '040201' → '04/0402/040201': DB44 codes nest by 2 digits."""
    return "/".join(code[: i + 2] for i in range(0, len(code), 2))
