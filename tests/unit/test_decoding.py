from datetime import datetime, timezone

import pytest

from pipeline.decoding import decode_bytes, decode_header_value, html_to_text, parse_date


@pytest.mark.parametrize("encoded, expected", [
    ("=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=", "テスト"),
    ("=?gb2312?B?suLK1A==?=", "测试"),
    ("=?iso-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème"),
    ("=?utf-8?q?Re=3A_caf=C3=A9?= and plain", "Re: café and plain"),
])
def test_rfc2047_headers_decode_in_any_charset(encoded, expected):
    warnings = []
    assert decode_header_value(encoded, warnings) == expected
    assert warnings == []


def test_unknown_header_charset_is_decoded_best_effort_and_recorded():
    warnings = []
    text = decode_header_value("=?unknown-8bit?Q?Caf=C3=A9?=", warnings)
    assert text == "Café"
    assert "unknown charset: unknown-8bit" in warnings


def test_charset_python_does_not_know_by_that_name_is_aliased_and_recorded():
    warnings = []
    assert decode_bytes("測試".encode("big5"), "CHINESEBIG5", warnings) == "測試"
    assert warnings == ["charset alias: chinesebig5 read as big5"]


def test_invalid_bytes_fall_back_without_losing_the_text():
    warnings = []
    text = decode_bytes(b"caf\xe9 au lait", "utf-8", warnings)
    assert text == "café au lait"
    assert "invalid bytes for charset: utf-8" in warnings


def test_date_keeps_utc_and_original_offset():
    parsed = parse_date("Thu, 22 Aug 2002 08:17:21 -0400")
    assert parsed.utc == datetime(2002, 8, 22, 12, 17, 21, tzinfo=timezone.utc)
    assert parsed.offset_minutes == -240
    assert parsed.status == "ok"


@pytest.mark.parametrize("value, status", [(None, "missing"), ("  ", "missing"),
                                           ("not a date at all", "unparseable"),
                                           ("Mon, 32 Foo 2002 25:61:00 +0000", "unparseable")])
def test_bad_or_missing_dates_are_never_invented(value, status):
    parsed = parse_date(value)
    assert parsed.utc is None
    assert parsed.status == status


def test_html_to_text_drops_scripts_and_keeps_paragraphs():
    text = html_to_text("<html><head><style>p{}</style></head><body><p>Hello &amp; bye</p>"
                        "<script>var x;</script><p>Second</p></body></html>")
    assert text == "Hello & bye\n\nSecond"
