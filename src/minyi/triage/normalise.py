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
from typing import Any

_converter: Any = None
_lock = threading.Lock()

# Literal "\n", "\t" and "\r" left by scrapers that escaped the text twice.
_ESCAPED = re.compile(r"\\[ntr]")
_SPACES = re.compile(r"[^\S\n]+")
_BREAKS = re.compile(r"\s*\n\s*")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\xad"))


def _t2s() -> Any:
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                import opencc

                _converter = opencc.OpenCC("t2s")
    return _converter


def normalise(text: str) -> str:
    """`text` folded to the form the models were trained on; idempotent."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = _ESCAPED.sub(" ", text).replace("\r", "\n")
    if not text.isascii():
        text = _t2s().convert(text)
    text = _SPACES.sub(" ", text)
    text = _BREAKS.sub("\n", text)
    return text.strip().lower()
