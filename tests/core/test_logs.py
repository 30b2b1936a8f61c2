import logging

from minyi.core.logs import DropQueryString


def test_access_log_lines_lose_their_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/track/ABC?phone_last4=5678", "1.1", 200),
        None,
    )
    assert DropQueryString().filter(record)
    assert "5678" not in record.getMessage()
    assert "/api/v1/track/ABC" in record.getMessage()
