"""Tests for parse_options_header and is_json_media_type."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo.exceptions import BadRequest
from flasgo.mediatypes import accepted_codings, is_json_media_type, parse_options_header
from tests.linear import linear_ratio


def _parse(value: str) -> tuple[str, dict[str, str]]:
    return parse_options_header(value, max_length=10**9)


# -- parse_options_header ----------------------------------------------------------------------


def test_main_value_is_lowered_and_stripped() -> None:
    assert parse_options_header("  Text/HTML  ") == ("text/html", {})
    assert parse_options_header("") == ("", {})


def test_parameters() -> None:
    assert parse_options_header("text/html; Charset=UTF-8") == ("text/html", {"charset": "UTF-8"})
    assert parse_options_header("multipart/form-data; boundary=abc ; x = y") == (
        "multipart/form-data",
        {"boundary": "abc", "x": "y"},
    )


def test_quoted_values() -> None:
    value = 'form-data; name="field;name"; filename="a \\"b\\" \\\\c.txt"'
    assert parse_options_header(value) == (
        "form-data",
        {"name": "field;name", "filename": 'a "b" \\c.txt'},
    )
    assert parse_options_header('a; x=""; y="="') == ("a", {"x": "", "y": "="})
    assert parse_options_header('a; x=  "q" junk ; y=1') == ("a", {"x": "q", "y": "1"})


def test_escaped_characters_are_kept_literally() -> None:
    assert parse_options_header('a; x="\\a\\;b"') == ("a", {"x": "a;b"})


def test_malformed_parts_are_skipped() -> None:
    assert parse_options_header("a; novalue; =x; b c=1; d=2; ;;") == ("a", {"d": "2"})
    assert parse_options_header('a; x="unterminated; y=1') == ("a", {})
    assert parse_options_header('a; x="trailing backslash\\') == ("a", {})
    assert parse_options_header('a; x="esc\\"; y=2') == ("a", {})
    assert parse_options_header("a; e=") == ("a", {"e": ""})


@pytest.mark.parametrize(
    "value",
    [
        "multipart/form-data; boundary=first; BOUNDARY=second",
        'form-data; name="a"; filename="x.txt"; filename="x.php"',
        "text/plain; charset=utf-8; charset=utf-8",
    ],
)
def test_a_repeated_parameter_is_refused(value: str) -> None:
    with pytest.raises(BadRequest, match="parameter is repeated"):
        parse_options_header(value)


def test_too_long_is_bad_request() -> None:
    with pytest.raises(BadRequest) as info:
        parse_options_header("a" * 4097)
    assert info.value.detail == "Header value too long."
    assert parse_options_header("a" * 4096)[0] == "a" * 4096
    with pytest.raises(BadRequest):
        parse_options_header("text/plain", max_length=5)


def test_backslash_flood_security_case_a1() -> None:
    # SECURITY (security-cases A1, CVE-2024-24762): crafted options must not backtrack.
    value = 'multipart/form-data; boundary=x; a="' + "\\" * 100_000
    assert _parse(value) == ("multipart/form-data", {"boundary": "x"})
    with pytest.raises(BadRequest):
        parse_options_header(value)


def test_semicolons_in_quotes_security_case_b3() -> None:
    # SECURITY (security-cases B3, CVE-2025-67726): thousands of ";" inside quotes.
    inner = "a;" * 50_000
    assert _parse(f'form-data; name="{inner}"') == ("form-data", {"name": inner})
    assert _parse(f'form-data; name="{inner}') == ("form-data", {})


@pytest.mark.parametrize(
    ("make", "n"),
    [
        (lambda n: 'a; x="' + "\\" * n, 40_000),
        (lambda n: 'a; x="' + '\\"' * n + '"', 20_000),
        (lambda n: 'form-data; name="' + "a;" * n + '"', 1_000_000),
        # NOTE: distinct names: a repeated one is refused at once (tested above).
        (lambda n: "a" + "".join(f"; k{i}=v" for i in range(n)), 10_000),
        (lambda n: "a" + "".join(f';x{i}="' for i in range(n)), 20_000),
        (lambda n: "a; " + "=" * n + ";" * n, 40_000),
        (lambda n: "a; k=" + " " * n + "v", 4_000_000),
    ],
    ids=["backslashes", "escaped-quotes", "quoted-semicolons", "params", "quotes", "equals", "ws"],
)
def test_parse_is_linear(make: Callable[[int], str], n: int) -> None:
    small_value = make(n)
    large_value = make(2 * n)
    assert linear_ratio(lambda: _parse(small_value), lambda: _parse(large_value)) <= 2.5


@given(st.text(max_size=300))
def test_never_raises_on_arbitrary_text(value: str) -> None:
    main, params = parse_options_header(value)
    assert main == main.strip().lower()
    for key in params:
        assert key == key.lower()


@given(st.text(st.characters(codec="ascii"), max_size=100))
def test_quoted_value_round_trip(text: str) -> None:
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert parse_options_header(f"a; name={quoted}; after=1") == (
        "a",
        {"name": text, "after": "1"},
    )


# -- is_json_media_type ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mime",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/vnd.api+json",
        "application/problem+json",
        " application/ld+json ",
    ],
)
def test_json_media_types(mime: str) -> None:
    assert is_json_media_type(mime)


@pytest.mark.parametrize(
    "mime",
    [
        "",
        "text/plain",
        "text/json",
        "application/+json",
        "application/jsonx",
        "application/x-www-form-urlencoded",
        "application/a b+json",
        "application/a/b+json",
        "multipart/form-data",
        "text/plain+json",
    ],
)
def test_not_json_media_types(mime: str) -> None:
    # SECURITY (CVE-2021-32677): text/plain bodies are never treated as JSON.
    assert not is_json_media_type(mime)


# -- Accept-Encoding ---------------------------------------------------------------------------


def test_accepted_codings_reads_only_the_first_32_items() -> None:
    names = [f"c{i}" for i in range(100)]
    assert list(accepted_codings(",".join(names))) == names[:32]


def test_accepted_codings_reads_qualities() -> None:
    assert accepted_codings("gzip;q=0.5, BR , zstd;q=0, x;q=abc, y;q=2, z;q=nan") == {
        "gzip": 0.5,
        "br": 1.0,
        "zstd": 0.0,
        "x": 0.0,
        "y": 0.0,
        "z": 0.0,
    }


@given(st.text(max_size=300))
def test_accepted_codings_never_raises_and_stays_in_range(value: str) -> None:
    qualities = accepted_codings(value)
    assert len(qualities) <= 32
    assert all(0.0 <= quality <= 1.0 for quality in qualities.values())


def test_accepted_codings_reads_a_huge_header_in_linear_time() -> None:
    # NOTE: at most 32 items are read (a flood of commas costs nothing more); one long item is
    # read once: n then 2n.
    small, large = "gzip;q=0.5, br;" + "x" * 200_000, "gzip;q=0.5, br;" + "x" * 400_000
    assert linear_ratio(lambda: accepted_codings(small), lambda: accepted_codings(large)) <= 2.5
