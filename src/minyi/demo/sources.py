"""Where the demo reads the real data: `MINYI_SHARED_DATA`, never a copy in the repository.

The message text is personal data: it is read here, handed to the place miner, and never
logged or stored; only the place names mined from it reach the database.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from minyi.catalogue.service import STANDARD_FILE
from minyi.core.errors import NotFound

# Every appeals file with the columns holding a message's title and body.
APPEAL_FILES: tuple[tuple[str, tuple[str, str]], ...] = (
    ("train.csv", ("title", "body")),
    ("test.csv", ("title", "body")),
    ("hotspot_messages.csv", ("留言主题", "留言详情")),
    ("test_phase_unlabeled.csv", ("留言主题", "留言详情")),
    ("replies.csv", ("留言主题", "留言详情")),
)


def required_files(shared_data: Path) -> list[Path]:
    return [shared_data / "appeals" / name for name, _ in APPEAL_FILES] + [
        shared_data / STANDARD_FILE
    ]


def check_shared_data(shared_data: Path) -> None:
    """Raise `NotFound` naming the folder (absolute) and the files missing from it."""
    folder = shared_data.resolve()
    if not folder.is_dir():
        raise NotFound(
            "shared_data_missing",
            f"找不到真实数据目录：{folder}（请设置 MINYI_SHARED_DATA）",
            f"The real data folder does not exist: {folder} (set MINYI_SHARED_DATA)",
            details={"path": str(folder)},
        )
    missing = [p for p in required_files(folder) if not p.is_file()]
    if missing:
        names = ", ".join(str(p.relative_to(folder)) for p in missing)
        raise NotFound(
            "shared_data_missing",
            f"找不到真实数据：在 {folder} 中缺少 {names}（请设置 MINYI_SHARED_DATA）",
            f"The real data is missing: {folder} lacks {names} (set MINYI_SHARED_DATA)",
            details={"path": str(folder), "missing": [str(p) for p in missing]},
        )


def read_message_texts(shared_data: Path) -> Iterator[str]:
    """The title and the body of every message, as separate texts."""
    for name, columns in APPEAL_FILES:
        with (shared_data / "appeals" / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                for column in columns:
                    text = row.get(column)
                    if text:
                        yield text
