"""Pure rules: the retry schedule, payload hygiene, URL checks and signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from minyi.notify.domain import (
    DEFAULT_MAX_ATTEMPTS,
    RETRY_SCHEDULE,
    next_attempt_delay,
    sign,
    signature_timestamp,
    strip_personal,
    subscribes_to,
    verify_signature,
    webhook_url_problem,
)

AT = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [
        (1, timedelta(seconds=30)),
        (2, timedelta(minutes=2)),
        (3, timedelta(minutes=10)),
        (4, timedelta(hours=1)),
        (5, timedelta(hours=6)),
        (7, timedelta(hours=24)),
        (50, timedelta(hours=24)),
    ],
    ids=lambda v: str(v),
)
def test_backoff_grows_then_repeats_the_last_wait(attempts: int, delay: timedelta) -> None:
    assert next_attempt_delay(attempts) == delay


def test_backoff_counts_from_one() -> None:
    with pytest.raises(ValueError):
        next_attempt_delay(0)


def test_all_attempts_fit_in_two_days() -> None:
    waits = [next_attempt_delay(n) for n in range(1, DEFAULT_MAX_ATTEMPTS)]
    assert waits == sorted(waits)
    assert timedelta(hours=24) < sum(waits, timedelta()) < timedelta(hours=48)
    assert len(RETRY_SCHEDULE) == DEFAULT_MAX_ATTEMPTS - 1


def test_personal_keys_are_stripped_at_any_depth_and_case() -> None:
    payload = {
        "status": "dispatched",
        "Phone": "13812345678",
        "requester": {"name": "张女士", "id_number": "440301199001011234", "mobile": "1"},
        "contacts": [{"phone_number": "13900000000", "role": "owner"}],
    }
    assert strip_personal(payload) == {
        "status": "dispatched",
        "requester": {"name": "张女士"},
        "contacts": [{"role": "owner"}],
    }
    assert payload["Phone"] == "13812345678"  # a copy: the caller's dict is left alone


@pytest.mark.parametrize(
    ("types", "event", "expected"),
    [([], "chase", True), (["chase"], "chase", True), (["dispatch"], "chase", False)],
    ids=["empty-means-all", "listed", "not-listed"],
)
def test_subscribes_to(types: list[str], event: str, expected: bool) -> None:
    assert subscribes_to(types, event) is expected


@pytest.mark.parametrize(
    "url",
    ["https://cases.example.gov.cn/hook", "http://10.1.2.3:8080/minyi?x=1", "http://localhost/h"],
)
def test_good_urls(url: str) -> None:
    assert webhook_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/x", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("https:///nohost", "no host"),
        ("https://user:pw@example.com/", "password"),
        ("https://example.com/a b", "spaces"),
        ("https://example.com/" + "x" * 500, "longer"),
    ],
    ids=["ftp", "javascript", "no-scheme", "no-host", "credentials", "space", "too-long"],
)
def test_bad_urls(url: str, why: str) -> None:
    problem = webhook_url_problem(url)
    assert problem is not None and why in problem


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"id":1,"event_type":"dispatch"}'
    ts = signature_timestamp(AT)
    header = sign("whsec_abc", ts, body)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert verify_signature("whsec_abc", ts, body, header)
    assert not verify_signature("whsec_abd", ts, body, header)
    assert not verify_signature("whsec_abc", ts, body + b" ", header)
    assert not verify_signature("whsec_abc", str(int(ts) + 1), body, header)
    assert not verify_signature("whsec_abc", ts, body, "sha256=" + "0" * 64)
    assert not verify_signature("whsec_abc", ts, body, "")


def test_signature_refuses_replays_when_given_the_time() -> None:
    body = b"{}"
    ts = signature_timestamp(AT)
    header = sign("s", ts, body)
    assert verify_signature("s", ts, body, header, now=AT + timedelta(minutes=4))
    assert not verify_signature("s", ts, body, header, now=AT + timedelta(minutes=6))
    assert not verify_signature("s", "not-a-number", body, header, now=AT)
