"""What an attachment really is, read from its bytes: the name and declared type are never
trusted, because a phone, a browser or an attacker can call anything `photo.jpg`.

`inspect` recognises the kinds citizens send (photos, voice notes, hotline recordings,
videos, PDFs) from their magic bytes, applies the size limit of the kind, and walks the
file's own structure far enough to refuse a truncated or corrupt upload, without decoding
the media and without a third-party library.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass
from enum import StrEnum

MIB = 1024 * 1024


class FileKind(StrEnum):
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    PDF = "pdf"

    @property
    def label_zh(self) -> str:
        return _KIND_ZH[self]


_KIND_ZH = {
    FileKind.IMAGE: "图片",
    FileKind.AUDIO: "音频",
    FileKind.VIDEO: "视频",
    FileKind.PDF: "PDF 文件",
}

# Large enough for a phone's photo, a long hotline call and a short video clip.
MAX_BYTES: dict[FileKind, int] = {
    FileKind.IMAGE: 10 * MIB,
    FileKind.AUDIO: 20 * MIB,
    FileKind.VIDEO: 100 * MIB,
    FileKind.PDF: 20 * MIB,
}
# The mini-program's picker takes nine pictures; one appeal needs no more.
MAX_FILES_PER_APPEAL = 9
MAX_TOTAL_BYTES = 120 * MIB


@dataclass(frozen=True)
class IncomingFile:
    """An uploaded file as received. `declared_type` is what the client claimed: kept for
    nothing but curiosity, since the kind is read from `data`."""

    filename: str
    data: bytes
    declared_type: str | None = None


@dataclass(frozen=True)
class Sniffed:
    kind: FileKind
    mime: str


class FileRejected(Exception):
    """Why a file is refused, in Chinese and English, with a stable code."""

    def __init__(self, code: str, reason: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.code = code
        self.reason = reason
        self.reason_en = reason_en


def inspect(data: bytes) -> Sniffed:
    """The file's kind and type, or `FileRejected` (empty, unknown, too large, damaged)."""
    if not data:
        raise FileRejected("file_empty", "文件为空", "The file is empty")
    sniffed = sniff(data)
    if sniffed is None:
        raise FileRejected(
            "file_type_unsupported",
            "不支持的文件类型：仅接受图片（JPEG、PNG、GIF、WebP）、音频（MP3、WAV、AMR、M4A、OGG）、"
            "视频（MP4、MOV、WebM）和 PDF",
            "Unsupported file type: only images (JPEG, PNG, GIF, WebP), audio (MP3, WAV, AMR, "
            "M4A, OGG), video (MP4, MOV, WebM) and PDF are accepted",
        )
    limit = MAX_BYTES[sniffed.kind]
    if len(data) > limit:
        raise FileRejected(
            "file_too_large",
            f"{sniffed.kind.label_zh}不能超过 {limit // MIB} MB",
            f"A file of kind {sniffed.kind.value} may be at most {limit // MIB} MB",
        )
    _INTEGRITY[sniffed.mime](data)
    return sniffed


def sniff(data: bytes) -> Sniffed | None:
    """Recognise the format from magic bytes alone."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(FileKind.IMAGE, "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(FileKind.IMAGE, "image/png")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return Sniffed(FileKind.IMAGE, "image/gif")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return Sniffed(FileKind.IMAGE, "image/webp")
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return Sniffed(FileKind.AUDIO, "audio/wav")
    if head.startswith(b"#!AMR-WB\n"):
        return Sniffed(FileKind.AUDIO, "audio/amr-wb")
    if head.startswith(b"#!AMR\n"):
        return Sniffed(FileKind.AUDIO, "audio/amr")
    if head.startswith(b"OggS"):
        # Theora is the only video codec worth telling apart in an Ogg stream.
        is_video = data.find(b"\x80theora", 0, 4096) >= 0
        return (
            Sniffed(FileKind.VIDEO, "video/ogg")
            if is_video
            else Sniffed(FileKind.AUDIO, "audio/ogg")
        )
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        doc_type = _ebml_doc_type(data)
        if doc_type == b"webm":
            return Sniffed(FileKind.VIDEO, "video/webm")
        if doc_type == b"matroska":
            return Sniffed(FileKind.VIDEO, "video/x-matroska")
        return None
    if head[4:8] == b"ftyp":
        return _iso_media(head[8:12])
    if head.startswith(b"ID3") or _mpeg_frame_length(data, 0) is not None:
        return Sniffed(FileKind.AUDIO, "audio/mpeg")
    # Last: a PDF may carry a few bytes of junk before its header (ISO 32000 allows 1 KB).
    if data.find(b"%PDF-", 0, 1024) >= 0:
        return Sniffed(FileKind.PDF, "application/pdf")
    return None


def safe_name(name: str | None) -> str:
    """The client's file name, only ever shown: no path, no control characters, short."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = "".join(c for c in unicodedata.normalize("NFC", base) if c.isprintable()).strip()
    return cleaned[:255] or "attachment"


# --- integrity ------------------------------------------------------------------------------


def _truncated() -> FileRejected:
    return FileRejected(
        "file_corrupt", "文件不完整或已损坏，请重新上传", "The file is truncated or corrupt"
    )


def _check_jpeg(d: bytes) -> None:
    """Walk the marker segments and the entropy-coded scans to the end-of-image marker.
    Data after it (a phone's "motion photo" video) is allowed."""
    n, i, scans = len(d), 2, 0
    while True:
        if i >= n or d[i] != 0xFF:
            raise _truncated()
        while i < n and d[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            raise _truncated()
        marker = d[i]
        i += 1
        if marker == 0xD9:
            if scans == 0:
                raise _truncated()
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if i + 2 > n:
            raise _truncated()
        length = (d[i] << 8) | d[i + 1]
        if length < 2 or i + length > n:
            raise _truncated()
        i += length
        if marker == 0xDA:
            scans += 1
            i = _end_of_scan(d, i)


def _end_of_scan(raw: bytes, i: int) -> int:
    """Where the next marker starts after entropy-coded data (FF00 and RSTn are data)."""
    n = len(raw)
    while True:
        j = raw.find(b"\xff", i)
        if j < 0 or j + 1 >= n:
            raise _truncated()
        follow = raw[j + 1]
        if follow == 0x00 or 0xD0 <= follow <= 0xD7:
            i = j + 2
        elif follow == 0xFF:
            i = j + 1
        else:
            return j


def _check_png(d: bytes) -> None:
    """Every chunk whole and with a matching CRC, IHDR first, IEND last."""
    n, i, first = len(d), 8, True
    view = memoryview(d)  # CRCs over slices of a 10 MB image without copying them
    while i + 12 <= n:
        length = int.from_bytes(d[i : i + 4], "big")
        ctype = d[i + 4 : i + 8]
        end = i + 12 + length
        if end > n or (first and ctype != b"IHDR"):
            raise _truncated()
        if zlib.crc32(view[i + 4 : end - 4]) != int.from_bytes(d[end - 4 : end], "big"):
            raise _truncated()
        if ctype == b"IEND":
            return
        first, i = False, end
    raise _truncated()


def _check_gif(d: bytes) -> None:
    body = d[-16:].rstrip(b"\x00")
    if len(d) < 14 or not body.endswith(b";"):
        raise _truncated()


def _check_riff(d: bytes) -> None:
    declared = int.from_bytes(d[4:8], "little")
    if len(d) < 16 or declared + 8 > len(d):
        raise _truncated()


def _check_pdf(d: bytes) -> None:
    if d[-2048:].find(b"%%EOF") < 0:
        raise _truncated()


def _check_amr(d: bytes) -> None:
    if len(d) <= 9:
        raise _truncated()


def _check_ogg(d: bytes) -> None:
    """Page by page to the end: a recording cut off mid-page is refused."""
    n, i = len(d), 0
    while i < n:
        if i + 27 > n or d[i : i + 4] != b"OggS":
            raise _truncated()
        segments = d[i + 26]
        header_end = i + 27 + segments
        if header_end > n:
            raise _truncated()
        i = header_end + sum(d[i + 27 : header_end])
        if i > n:
            raise _truncated()


def _check_iso_media(d: bytes) -> None:
    """Top-level boxes fit the file exactly and a `moov` box (the index) is present."""
    n, i = len(d), 0
    seen: set[bytes] = set()
    while i < n:
        if i + 8 > n:
            raise _truncated()
        size = int.from_bytes(d[i : i + 4], "big")
        header = 8
        if size == 1:
            if i + 16 > n:
                raise _truncated()
            size, header = int.from_bytes(d[i + 8 : i + 16], "big"), 16
        elif size == 0:
            size = n - i
        if size < header or i + size > n:
            raise _truncated()
        seen.add(d[i + 4 : i + 8])
        i += size
    if b"moov" not in seen:
        raise _truncated()


def _check_ebml(d: bytes) -> None:
    """The EBML header whole, and the Segment whole unless its size is "unknown" (as a
    browser's live recorder writes it)."""
    raw = d[:64]
    header = _read_vint(raw, 4)
    if header is None:
        raise _truncated()
    size, width = header
    start = 4 + width + size
    if start + 4 > len(d) or d[start : start + 4] != b"\x18\x53\x80\x67":
        raise _truncated()
    segment = _read_vint(d[start + 4 : start + 12], 0)
    if segment is None:
        raise _truncated()
    seg_size, seg_width = segment
    if seg_size != (1 << (7 * seg_width)) - 1 and start + 4 + seg_width + seg_size > len(d):
        raise _truncated()


def _check_mp3(raw: bytes) -> None:
    start = 0
    if raw.startswith(b"ID3"):
        if len(raw) < 10 or any(b & 0x80 for b in raw[6:10]):
            raise _truncated()
        size = 0
        for b in raw[6:10]:
            size = (size << 7) | b
        start = 10 + size + (10 if raw[5] & 0x10 else 0)
        while start < len(raw) and raw[start] == 0:  # padding some taggers leave after the tag
            start += 1
    first = _mpeg_frame_length(raw, start)
    if first is None:
        raise _truncated()
    following = start + first
    if following > len(raw):
        raise _truncated()
    # Two frames in a row: random bytes almost never look like that.
    if following < len(raw) and _mpeg_frame_length(raw, following) is None:
        raise _truncated()


_INTEGRITY = {
    "image/jpeg": _check_jpeg,
    "image/png": _check_png,
    "image/gif": _check_gif,
    "image/webp": _check_riff,
    "audio/wav": _check_riff,
    "application/pdf": _check_pdf,
    "audio/amr": _check_amr,
    "audio/amr-wb": _check_amr,
    "audio/ogg": _check_ogg,
    "video/ogg": _check_ogg,
    "video/webm": _check_ebml,
    "video/x-matroska": _check_ebml,
    "audio/mp4": _check_iso_media,
    "video/mp4": _check_iso_media,
    "video/quicktime": _check_iso_media,
    "video/3gpp": _check_iso_media,
    "audio/mpeg": _check_mp3,
}


# --- format details -------------------------------------------------------------------------

_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ")
# HEIC/AVIF stills share the container; browsers and most handlers cannot show them.
_STILL_BRANDS = (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif", b"avis")


def _iso_media(brand: bytes) -> Sniffed | None:
    if brand in _STILL_BRANDS:
        return None
    if brand in _AUDIO_BRANDS:
        return Sniffed(FileKind.AUDIO, "audio/mp4")
    if brand == b"qt  ":
        return Sniffed(FileKind.VIDEO, "video/quicktime")
    if brand.startswith(b"3g"):
        return Sniffed(FileKind.VIDEO, "video/3gpp")
    return Sniffed(FileKind.VIDEO, "video/mp4")


def _read_vint(raw: bytes, at: int) -> tuple[int, int] | None:
    """An EBML variable-length integer: (value without the length marker, width)."""
    if at >= len(raw) or raw[at] == 0:
        return None
    first = raw[at]
    width = 8 - first.bit_length() + 1
    if at + width > len(raw):
        return None
    value = first & ((1 << (8 - width)) - 1)
    for b in raw[at + 1 : at + width]:
        value = (value << 8) | b
    return value, width


def _ebml_doc_type(data: bytes) -> bytes | None:
    """The DocType ("webm", "matroska") inside the EBML header."""
    raw = data[:256]
    header = _read_vint(raw, 4)
    if header is None:
        return None
    size, width = header
    i, end = 4 + width, min(len(raw), 4 + width + size)
    while i < end:
        first = raw[i]
        id_width = 8 - first.bit_length() + 1 if first else 9
        if id_width > 4:
            return None
        element = raw[i : i + id_width]
        found = _read_vint(raw, i + id_width)
        if found is None:
            return None
        length, len_width = found
        body = i + id_width + len_width
        if element == b"\x42\x82":
            return raw[body : body + length]
        i = body + length
    return None


_BITRATES = {
    (3, 3): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),  # MPEG-1 L1
    (3, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),  # MPEG-1 L2
    (3, 1): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 L3
    (2, 3): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),  # MPEG-2 L1
    (2, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 L2
    (2, 1): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 L3
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame_length(raw: bytes, at: int) -> int | None:
    """The length of the MPEG audio frame whose header starts at `at`, or None."""
    if at + 4 > len(raw) or raw[at] != 0xFF or raw[at + 1] & 0xE0 != 0xE0:
        return None
    version = (raw[at + 1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    layer = (raw[at + 1] >> 1) & 3  # 3: layer I, 2: II, 1: III, 0: reserved
    bitrate_index = raw[at + 2] >> 4
    rate_index = (raw[at + 2] >> 2) & 3
    padding = (raw[at + 2] >> 1) & 1
    if version == 1 or layer == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _BITRATES[(3 if version == 3 else 2, layer)][bitrate_index - 1] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    if layer == 3:
        return (12 * bitrate // rate + padding) * 4
    if layer == 1 and version != 3:
        return 72 * bitrate // rate + padding
    return 144 * bitrate // rate + padding
