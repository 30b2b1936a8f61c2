"""Every model reads appeals through `normalise`: the same words must look the same."""

import pytest

from minyi.triage.normalise import normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("ＡＢＣ１２３，请处理", "abc123,请处理", id="full-width-to-half-width"),
        pytest.param("這個問題很嚴重，請儘快處理", "这个问题很严重,请尽快处理", id="traditional"),
        pytest.param("\t\t 小区\xa0\xa0噪音\u3000扰民  ", "小区 噪音 扰民", id="scraped-spaces"),
        pytest.param("标题\n\t\t\n正文 一\r\n二", "标题\n正文 一\n二", id="breaks"),
        pytest.param("路灯不亮\\n\\t请修", "路灯不亮 请修", id="escaped-breaks"),
        pytest.param("WIFI 信号 Bad", "wifi 信号 bad", id="latin-lower"),
        pytest.param("", "", id="empty"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_normalise_is_idempotent() -> None:
    once = normalise("ＡＢ這個\t\t问题\n\n  請處理")
    assert normalise(once) == once
