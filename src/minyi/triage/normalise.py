"""The one text form the classifier, the item ranker and the duplicate index all read.

Appeals arrive typed on phones (full-width letters and digits), pasted from Hong Kong or
Taiwan sites (traditional characters) or scraped from web boards (tabs, no-break spaces,
"\\n\\t\\t\\t" runs). The same words must look the same to every model, so they are folded
here: NFKC (full width → half width), traditional → simplified (OpenCC "t2s"), Latin in
lower case, every run of whitespace one space, line breaks kept as one "\\n" (the title is
separated from the body by it).

Pure: no I/O except the lazy, once-per-process OpenCC converter.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

_converter: Any = None
# CJK ideographs are NFKC-stable starters that never compose with a neighbour, so only the
# runs between them need folding; the runs are mostly the same few punctuation marks.
_NOT_HAN = re.compile("[^\u4e00-\u9fff]+")
_lock = threading.Lock()

# Literal "\n", "\t" and "\r" left by scrapers that escaped the text twice.
_ESCAPED = re.compile(r"\\[ntr]")
_SPACES = re.compile(r"[^\S\n]+")
_BREAKS = re.compile(r"\s*\n\s*")
# Zero-width marks and soft hyphens, dropped (a regex scan is faster than str.translate).
_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff\xad]")


def _t2s() -> Any:
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                import opencc

                _converter = opencc.OpenCC("t2s")
    return _converter


@lru_cache(maxsize=8192)
def _nfkc_run(run: str) -> str:
    return run if run.isascii() else unicodedata.normalize("NFKC", run)


def _nfkc(match: re.Match[str]) -> str:
    return _nfkc_run(match.group())


def normalise(text: str) -> str:
    """`text` folded to the form the models were trained on; idempotent."""
    if not text:
        return ""
    text = _INVISIBLE.sub("", _NOT_HAN.sub(_nfkc, text))
    text = _ESCAPED.sub(" ", text).replace("\r", "\n")
    if not text.isascii():
        text = _t2s().convert(text)
    text = _SPACES.sub(" ", text)
    text = _BREAKS.sub("\n", text)
    return text.strip().lower()
