"""Tests for query string and urlencoded form parsing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo.exceptions import BadRequest, PayloadTooLarge
from flasgo.querystring import encode_query, parse_query_string, parse_urlencoded_form
from tests.linear import linear_ratio


def _pairs(qs: bytes | str, max_fields: int = 1000) -> list[tuple[str, str]]:
    return parse_query_string(qs, max_fields=max_fields).items(multi=True)


# -- parse_query_string ------------------------------------------------------------------------


def test_query_basic_fields_in_order() -> None:
    assert _pairs(b"a=1&b=2&a=3") == [("a", "1"), ("b", "2"), ("a", "3")]
    result = parse_query_string(b"a=1&b=2&a=3", max_fields=10)
    assert result["a"] == "1"
    assert result.getlist("a") == ["1", "3"]


def test_query_blank_values_and_keys_without_equals() -> None:
    assert _pairs(b"a=&b&c=3") == [("a", ""), ("b", ""), ("c", "3")]
    assert _pairs(b"=v") == [("", "v")]
    assert _pairs(b"a==b") == [("a", "=b")]


def test_query_empty_pieces_are_skipped() -> None:
    assert _pairs(b"&&a=1&&&b=2&") == [("a", "1"), ("b", "2")]
    assert _pairs(b"") == []
    assert _pairs("") == []
    assert _pairs(b"&&&") == []
    assert _pairs(b"&a=%41&&b=%42&") == [("a", "A"), ("b", "B")]


def test_query_semicolon_is_not_a_separator() -> None:
    assert _pairs(b"a=1;b=2") == [("a", "1;b=2")]


def test_query_plus_and_percent_decoding() -> None:
    assert _pairs(b"q=a+b%20c%2Bd") == [("q", "a b c+d")]
    assert _pairs(b"k%3D=v%26w") == [("k=", "v&w")]
    assert _pairs(b"e=%E2%82%AC&f=%e2%82%ac") == [("e", "\u20ac"), ("f", "\u20ac")]
    assert _pairs(b"a+b=c") == [("a b", "c")]


def test_query_bad_percent_escapes_stay_literal() -> None:
    assert _pairs(b"a=%&b=%z1&c=%4&d=100%&e=%%41") == [
        ("a", "%"),
        ("b", "%z1"),
        ("c", "%4"),
        ("d", "100%"),
        ("e", "%A"),
    ]


def test_query_invalid_utf8_is_replaced_never_raised() -> None:
    assert _pairs(b"a=%FF%FE&b=ok") == [("a", "\ufffd\ufffd"), ("b", "ok")]
    assert _pairs(b"a=\xff") == [("a", "\ufffd")]
    assert _pairs(b"a=\xff%41") == [("a", "\ufffdA")]


def test_query_raw_utf8_bytes() -> None:
    assert _pairs("é=ü".encode()) == [("é", "ü")]


def test_query_accepts_str() -> None:
    assert _pairs("a=1&b=%C3%A9+x") == [("a", "1"), ("b", "é x")]
    [(key, value)] = _pairs("é=\ud800")
    assert key == "é"
    assert value.strip("\ufffd") == ""


def test_query_field_limit() -> None:
    assert len(parse_query_string(b"a=1&b=2&c=3", max_fields=3)) == 3
    with pytest.raises(PayloadTooLarge) as info:
        parse_query_string(b"a=1&b=2&c=3&d=4", max_fields=3)
    assert info.value.detail == "Too many query string fields (limit 3)."
    assert info.value.status_code == 413


def test_query_field_limit_counts_fields_not_separators() -> None:
    assert _pairs(b"a=1&&&&&&&&b=2", max_fields=2) == [("a", "1"), ("b", "2")]
    with pytest.raises(PayloadTooLarge):
        parse_query_string(b"a&b&c", max_fields=2)


def test_query_hundred_thousand_ampersands() -> None:
    # SECURITY (security-cases A21): a flood of separators is counted in C, then rejected.
    with pytest.raises(PayloadTooLarge):
        parse_query_string(b"a&" * 100_000, max_fields=1000)
    assert _pairs(b"&" * 1_000_000, max_fields=1000) == []


def test_query_does_not_unquote_without_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    import flasgo.querystring as module

    def fail(data: bytes) -> bytes:
        raise AssertionError("unquote called")

    monkeypatch.setattr(module, "_unquote", fail)
    assert _pairs(b"a=1&b=x+y") == [("a", "1"), ("b", "x y")]


@given(st.binary(max_size=200))
def test_query_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    try:
        result = parse_query_string(data, max_fields=10)
    except PayloadTooLarge:
        return
    assert len(result.items(multi=True)) <= 10


@given(st.text(max_size=200))
def test_query_never_raises_on_arbitrary_text(text: str) -> None:
    with contextlib.suppress(PayloadTooLarge):
        parse_query_string(text, max_fields=10)


def test_query_parse_is_linear() -> None:
    unit = b"key%20name=some+value%E2%82%AC&plain=value&"

    def run(n: int) -> Callable[[], object]:
        data = unit * n
        return lambda: parse_query_string(data, max_fields=10**9)

    n = 10_000
    assert linear_ratio(run(n), run(2 * n)) <= 2.5


def test_query_escape_flood_is_linear() -> None:
    def run(n: int) -> Callable[[], object]:
        data = b"a=" + b"%%zz%E2%82%AC%20x" * n
        return lambda: parse_query_string(data, max_fields=10)

    n = 10_000
    assert linear_ratio(run(n), run(2 * n)) <= 2.5


# -- parse_urlencoded_form ---------------------------------------------------------------------


def _form(body: bytes, **kwargs: str) -> list[tuple[str, str]]:
    return parse_urlencoded_form(body, max_fields=100, **kwargs).items(multi=True)


def test_form_basic() -> None:
    assert _form(b"name=Jane+Doe&tag=a&tag=b&empty=") == [
        ("name", "Jane Doe"),
        ("tag", "a"),
        ("tag", "b"),
        ("empty", ""),
    ]
    assert _form(b"") == []


def test_form_invalid_utf8_is_bad_request() -> None:
    with pytest.raises(BadRequest) as info:
        _form(b"a=%FF")
    assert info.value.detail == "Form body is not valid UTF-8."
    with pytest.raises(BadRequest):
        _form(b"a=\xff")
    with pytest.raises(BadRequest):
        _form(b"\xc3=1&b=%41")


def test_form_other_charsets() -> None:
    assert _form(b"a=%E9&b=\xe9", charset="ISO-8859-1") == [("a", "é"), ("b", "é")]
    assert _form("k=日本".encode("shift_jis"), charset="Shift_JIS") == [("k", "日本")]
    assert _form(b"a=%E9", charset=" latin1 ") == [("a", "é")]


def test_form_charset_decode_error_names_the_charset() -> None:
    with pytest.raises(BadRequest) as info:
        _form(b"a=%80", charset="us-ascii")
    assert info.value.detail == "Form body is not valid us-ascii."


@pytest.mark.parametrize("charset", ["utf-16", "base64", "rot13", "x" * 1000, "", "nope"])
def test_form_unknown_charset_is_bad_request(charset: str) -> None:
    with pytest.raises(BadRequest) as info:
        _form(b"a=1", charset=charset)
    assert info.value.detail == "Unsupported form charset."


def test_form_field_limit() -> None:
    # SECURITY (security-cases A8/A21): the field limit applies to urlencoded bodies too.
    with pytest.raises(PayloadTooLarge) as info:
        parse_urlencoded_form(b"a=1&" * 100_000, max_fields=1000)
    assert info.value.detail == "Too many form fields (limit 1000)."


@given(st.binary(max_size=200))
def test_form_never_raises_other_errors(data: bytes) -> None:
    with contextlib.suppress(BadRequest, PayloadTooLarge):
        parse_urlencoded_form(data, max_fields=10)


def test_form_parse_is_linear() -> None:
    unit = b"field=some+value%C3%A9&"

    def run(n: int) -> Callable[[], object]:
        data = unit * n
        return lambda: parse_urlencoded_form(data, max_fields=10**9)

    n = 10_000
    assert linear_ratio(run(n), run(2 * n)) <= 2.5


# -- encode_query ------------------------------------------------------------------------------


def test_encode_query_mapping_and_pairs() -> None:
    assert encode_query({"a": "1", "b": "x y"}) == "a=1&b=x+y"
    assert encode_query([("a", "1"), ("a", "2")]) == "a=1&a=2"
    assert encode_query({}) == ""


def test_encode_query_none_lists_and_numbers() -> None:
    assert encode_query({"a": None, "b": ["1", None, 2], "c": 3.5, "d": ()}) == "b=1&b=2&c=3.5"


def test_encode_query_escapes_reserved_and_unicode() -> None:
    assert encode_query({"k&=": "v+%/?#é"}) == "k%26%3D=v%2B%25%2F%3F%23%C3%A9"
    assert encode_query({"safe": "AZaz09-._~"}) == "safe=AZaz09-._~"


def test_encode_query_rejects_lone_surrogates() -> None:
    with pytest.raises(UnicodeEncodeError):
        encode_query({"a": "\ud800"})


@given(st.lists(st.tuples(st.text(), st.text()), max_size=20))
def test_query_round_trip(pairs: list[tuple[str, str]]) -> None:
    encoded = encode_query(pairs)
    assert _pairs(encoded) == pairs
    assert _pairs(encoded.encode("ascii")) == pairs
    assert parse_urlencoded_form(encoded.encode(), max_fields=100).items(multi=True) == pairs
