"""Pure rules of intake: tracking codes, identity numbers, phones, dedupe, file sniffing."""

from __future__ import annotations

import os
from datetime import date

import pytest

from minyi.intake import domain, media
from minyi.intake.domain import (
    TRACKING_ALPHABET,
    AppealType,
    Channel,
    ChannelAccess,
    is_valid_credit_code,
    is_valid_id_number,
    is_valid_tracking_code,
    new_tracking_code,
    normalise_phone,
    staff_may_submit,
)
from tests.intake import samples

# --- tracking codes -------------------------------------------------------------------------

SAMPLE = [new_tracking_code() for _ in range(40)]


def test_tracking_codes_are_short_unambiguous_and_valid() -> None:
    for code in SAMPLE:
        assert len(code) == 10
        assert not set(code) & set("0O1IL")
        assert is_valid_tracking_code(code)
    assert len(set(SAMPLE)) == len(SAMPLE)


def test_every_single_substitution_is_caught() -> None:
    for code in SAMPLE:
        for i, original in enumerate(code):
            for other in TRACKING_ALPHABET:
                if other != original:
                    typo = code[:i] + other + code[i + 1 :]
                    assert not is_valid_tracking_code(typo), (code, i, other)


def test_every_adjacent_swap_is_caught() -> None:
    swaps = 0
    for code in SAMPLE:
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
                assert not is_valid_tracking_code(swapped), (code, i)
                swaps += 1
    assert swaps > 300


def test_tracking_code_is_read_forgivingly_but_not_blindly() -> None:
    code = SAMPLE[0]
    assert is_valid_tracking_code(f" {code[:5].lower()}-{code[5:]} ")
    assert not is_valid_tracking_code(code[:-1])
    assert not is_valid_tracking_code(code + "2")
    assert not is_valid_tracking_code("O" + code[1:])
    assert not is_valid_tracking_code("")


# --- identity numbers -----------------------------------------------------------------------


def _with_id_check(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


@pytest.mark.parametrize(
    "number",
    ["11010519491231002X", "11010519491231002x", "440524188001010014", "110101199003074477"],
)
def test_valid_resident_id_numbers(number: str) -> None:
    assert is_valid_id_number(number)


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("110105194912310021", "wrong check character"),
        ("11010519491231002", "17 characters"),
        ("11010519491231002XX", "19 characters"),
        ("01010519491231002X", "region code starts with 0"),
        (_with_id_check("11010519490230002"), "30 February"),
        ("1101051949123100AX", "letters in the body"),
    ],
)
def test_invalid_resident_id_numbers(number: str, why: str) -> None:
    assert not is_valid_id_number(number), why


def test_an_id_number_born_in_the_future_is_refused() -> None:
    number = _with_id_check("11010520300101001")
    assert is_valid_id_number(number)
    assert not is_valid_id_number(number, today=date(2026, 11, 2))


@pytest.mark.parametrize(
    "code",
    ["91350100M000100Y43", "91110000802100433B", "914403001922038216", "91440300708461136t"],
)
def test_valid_unified_social_credit_codes(code: str) -> None:
    assert is_valid_credit_code(code)


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91350100M000100Y44", "wrong check character"),
        ("914403001922038217", "wrong check character"),
        ("91350100M000100Y4", "17 characters"),
        ("91350100MO00100Y43", "O is not in the alphabet"),
        ("9135010AM000100Y43", "letter in the division code"),
    ],
)
def test_invalid_unified_social_credit_codes(code: str, why: str) -> None:
    assert not is_valid_credit_code(code), why


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("８６13812345678", "13812345678"),
        ("010-12345678", "01012345678"),
        ("(0755) 8765 4321", "075587654321"),
        ("400-123-4567", "4001234567"),
        ("12812345678", None),
        ("1381234567", None),
        ("12345", None),
        ("phone", None),
    ],
)
def test_phone_numbers(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


# --- channels and types ---------------------------------------------------------------------


def test_every_channel_and_type_has_a_chinese_label() -> None:
    assert all(c.label_zh for c in Channel)
    assert [t.label_zh for t in AppealType] == ["投诉", "求助", "咨询", "建议", "举报", "表扬"]
    assert {c for c in Channel if c.access is ChannelAccess.PUBLIC} == {
        Channel.APP,
        Channel.WEB,
        Channel.OPEN311,
    }


@pytest.mark.parametrize(
    ("channel", "role", "unit_kind", "allowed"),
    [
        (Channel.HOTLINE, "agent", "dispatch_centre", True),
        (Channel.HOTLINE, "handler", "grid_station", False),
        (Channel.GRID_WORKER, "handler", "grid_station", True),
        (Channel.GRID_WORKER, "handler", "district_department", False),
        (Channel.WINDOW, "handler", "street_office", True),
        (Channel.UNRESOLVED_WINDOW, "leader", "community_committee", True),
        (Channel.LEADER_BOARD, "leader", "district_department", True),
        (Channel.LEADER_BOARD, "handler", "district_department", False),
        (Channel.IMPORT, "agent", "dispatch_centre", False),
        (Channel.IMPORT, "admin", None, True),
        (Channel.EMAIL, "citizen", None, False),
        (Channel.WEB, "agent", "dispatch_centre", False),
    ],
)
def test_who_may_file_on_a_staff_channel(
    channel: Channel, role: str, unit_kind: str | None, allowed: bool
) -> None:
    assert staff_may_submit(channel, role, unit_kind) is allowed


# --- duplicates -----------------------------------------------------------------------------


def test_dedupe_hash_ignores_spacing_but_not_who_or_where() -> None:
    who = domain.requester_key(phone="13812345678")
    base = domain.dedupe_hash("web", who, "工地晚上十一点还在打桩")
    assert base == domain.dedupe_hash("web", who, " 工地晚上 十一点\n还在打桩 ")
    assert base == domain.dedupe_hash("web", who, "工地晚上十一点还在打桩　")  # ideographic space
    assert base != domain.dedupe_hash("app", who, "工地晚上十一点还在打桩")
    other = domain.requester_key(phone="13900000000")
    assert base != domain.dedupe_hash("web", other, "工地晚上十一点还在打桩")
    assert "13812345678" not in base


def test_requester_key_prefers_the_company_then_the_phone() -> None:
    assert domain.requester_key(credit_code="X", phone="1", user_id=2) == "uscc:X"
    assert domain.requester_key(phone="1", user_id=2) == "tel:1"
    assert domain.requester_key(user_id=2, client_id=3) == "user:2"
    assert domain.requester_key() == "anyone"


# --- file sniffing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind", "mime"),
    [
        (samples.png(), "image", "image/png"),
        (samples.jpeg(), "image", "image/jpeg"),
        (samples.gif(), "image", "image/gif"),
        (samples.pdf(), "pdf", "application/pdf"),
        (samples.mp3(), "audio", "audio/mpeg"),
        (samples.mp3(tagged=True), "audio", "audio/mpeg"),
        (samples.wav(), "audio", "audio/wav"),
        (samples.amr(), "audio", "audio/amr"),
        (samples.iso_media(b"M4A "), "audio", "audio/mp4"),
        (samples.iso_media(b"isom"), "video", "video/mp4"),
        (samples.iso_media(b"qt  "), "video", "video/quicktime"),
        (samples.ogg(), "audio", "audio/ogg"),
        (samples.webm(), "video", "video/webm"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_kind_is_read_from_the_bytes(data: bytes, kind: str, mime: str) -> None:
    sniffed = media.inspect(data)
    assert (sniffed.kind.value, sniffed.mime) == (kind, mime)


def _rejected(data: bytes) -> str:
    with pytest.raises(media.FileRejected) as caught:
        media.inspect(data)
    return caught.value.code


def test_random_bytes_and_foreign_formats_are_refused() -> None:
    assert _rejected(os.urandom(4096)) == "file_type_unsupported"
    assert _rejected(b"<html><script>alert(1)</script></html>") == "file_type_unsupported"
    assert _rejected(b"MZ\x90\x00" + os.urandom(200)) == "file_type_unsupported"  # an .exe
    assert _rejected(b"") == "file_empty"


@pytest.mark.parametrize(
    "data",
    [
        samples.jpeg()[:-2],  # no end-of-image marker
        samples.jpeg()[:20],  # cut inside the scan header
        samples.png()[:-12],  # no IEND
        samples.png()[:40],  # cut inside IDAT
        samples.gif()[:-1],
        samples.pdf()[:-7],  # no %%EOF
        samples.wav()[:-2],
        samples.iso_media(b"isom")[:-4],
        samples.iso_media(b"isom")[:20],  # no moov: an unfinished recording
        samples.ogg()[:-3],
        samples.mp3(tagged=True)[:24],  # a tag and no whole frame
    ],
    ids=[
        "jpeg-no-eoi",
        "jpeg-cut",
        "png-no-iend",
        "png-cut",
        "gif",
        "pdf",
        "wav",
        "mp4-cut",
        "mp4-no-moov",
        "ogg",
        "mp3",
    ],
)
def test_truncated_files_are_refused(data: bytes) -> None:
    assert _rejected(data) == "file_corrupt"


def test_a_png_with_a_damaged_chunk_is_refused() -> None:
    data = bytearray(samples.png())
    data[40] ^= 0xFF  # a bit flip inside IDAT: the CRC no longer matches
    assert _rejected(bytes(data)) == "file_corrupt"


def test_jpeg_with_data_after_the_end_marker_is_accepted() -> None:
    # Phones append a video after EOI ("motion photos"); the image itself is whole.
    assert media.inspect(samples.jpeg() + b"\x00\x00ftypmp42trailer").mime == "image/jpeg"


def test_size_limit_follows_the_kind() -> None:
    big = samples.png()[:8] + b"\x00" * (media.MAX_BYTES[media.FileKind.IMAGE] + 1)
    assert _rejected(big) == "file_too_large"


def test_heic_stills_are_refused_not_taken_for_video() -> None:
    assert _rejected(samples.iso_media(b"heic")) == "file_type_unsupported"


def test_file_names_are_cleaned_for_display() -> None:
    assert media.safe_name("../../etc/passwd") == "passwd"
    assert media.safe_name("C:\\Users\\me\\照片 1.jpg") == "照片 1.jpg"
    assert media.safe_name("a\x00b\nc.png") == "abc.png"
    assert media.safe_name("") == "attachment"
    assert media.safe_name(None) == "attachment"
