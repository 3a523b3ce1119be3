"""Tests for Cookie parsing and Set-Cookie building."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo.cookies import (
    build_delete_cookie,
    build_set_cookie,
    cookie_values,
    format_http_date,
    parse_cookie_header,
)
from tests.linear import linear_ratio

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
COOKIE_OCTETS = "".join(
    chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",;\\'
)  # RFC 6265 cookie-octet

# -- parse_cookie_header -----------------------------------------------------------------------


def test_parse_basic_pairs() -> None:
    assert parse_cookie_header("a=1; b=2;c=3") == {"a": "1", "b": "2", "c": "3"}
    assert parse_cookie_header("") == {}


def test_parse_trims_whitespace_around_pairs() -> None:
    assert parse_cookie_header("  a = 1 ;\tb=2\t; ") == {"a": "1", "b": "2"}


def test_parse_first_occurrence_wins() -> None:
    assert parse_cookie_header("sid=first; sid=second") == {"sid": "first"}


def test_parse_strips_dquotes_without_unescaping() -> None:
    assert parse_cookie_header('a="hello"; b="x\\"y"; c="; d=""') == {
        "a": "hello",
        "b": 'x\\"y',
        "c": '"',
        "d": "",
    }


def test_parse_keeps_empty_values_and_equals_in_values() -> None:
    assert parse_cookie_header("a=; b=x=y==") == {"a": "", "b": "x=y=="}


def test_parse_drops_pairs_without_equals() -> None:
    assert parse_cookie_header("flag; a=1") == {"a": "1"}


def test_parse_drops_invalid_names() -> None:
    assert parse_cookie_header("a b=1; ,c=2; d\x00=3; é=4; (e)=5; ok=6") == {"ok": "6"}


def test_parse_drops_nameless_cookies() -> None:
    # SECURITY (security-cases G1, CVE-2023-23934): "=__Host-x=y" is not the cookie "__Host-x".
    assert parse_cookie_header("=__Host-eq=bad; ==__Host-eq=bad; __Host-eq=good") == {
        "__Host-eq": "good"
    }


def test_parse_splits_on_semicolon_only() -> None:
    # SECURITY (security-cases G2): commas are not separators, as in browsers.
    assert parse_cookie_header("a=1, csrftoken=evil; b=2") == {"a": "1, csrftoken=evil", "b": "2"}


def test_parse_drops_oversized_cookies() -> None:
    big = "x" * 5000
    assert parse_cookie_header(f"a={big}; b=1") == {"b": "1"}
    assert parse_cookie_header(f"a={big}; b=1", max_cookie_bytes=10_000) == {"a": big, "b": "1"}
    assert parse_cookie_header("ab=cd", max_cookie_bytes=4) == {"ab": "cd"}
    assert parse_cookie_header("ab=cde", max_cookie_bytes=4) == {}


def test_parse_stops_after_max_cookies() -> None:
    header = "; ".join(f"c{i}={i}" for i in range(500))
    cookies = parse_cookie_header(header)
    assert len(cookies) == 128
    assert cookies["c127"] == "127"
    assert "c128" not in cookies
    assert len(parse_cookie_header(header, max_cookies=3)) == 3


def test_parse_five_thousand_invalid_names_silently(caplog: pytest.LogCaptureFixture) -> None:
    # SECURITY (security-cases B7): no log line per invalid cookie.
    header = ";".join(f",n{i}=1" for i in range(5000)) + "; ok=1"
    with caplog.at_level("DEBUG"):
        assert parse_cookie_header(header) == {"ok": "1"}
    assert caplog.records == []


def test_parse_backslash_flood_is_linear() -> None:
    # SECURITY (security-cases B5/B6, CVE-2024-7592): no quadratic unquoting.
    def run(n: int) -> Callable[[], object]:
        header = 'a="' + "\\" * n + '"; ' + "; ".join(f'k{i}="\\\\\\"x"' for i in range(n // 10))
        return lambda: parse_cookie_header(header, max_cookie_bytes=10**9, max_cookies=10**9)

    n = 200_000
    assert linear_ratio(run(n), run(2 * n)) <= 2.5


def test_parse_is_linear() -> None:
    def run(n: int) -> Callable[[], object]:
        header = "; ".join(f"name{i}=value{i}; ,bad{i}=x" for i in range(n))
        return lambda: parse_cookie_header(header, max_cookies=10**9)

    n = 20_000
    assert linear_ratio(run(n), run(2 * n)) <= 2.5


@given(st.text(max_size=300))
def test_parse_never_raises(header: str) -> None:
    cookies = parse_cookie_header(header, max_cookies=5)
    assert len(cookies) <= 5
    for name in cookies:
        assert name
        assert set(name) <= set(TOKEN_CHARS)


# -- cookie_values -----------------------------------------------------------------------------


def test_cookie_values_returns_every_value_in_order() -> None:
    header = 'sid=a; other=1; sid="b"; sid=; sids=x'
    assert cookie_values(header, "sid") == ["a", "b", ""]
    assert cookie_values(header, "missing") == []
    assert cookie_values("", "sid") == []
    assert cookie_values("sid", "sid") == []


# -- build_set_cookie --------------------------------------------------------------------------


def test_build_defaults_are_secure() -> None:
    # SECURITY: Secure, HttpOnly and SameSite=Lax by default; a change here must be deliberate.
    assert build_set_cookie("sid", "abc") == "sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax"


def test_build_attribute_order() -> None:
    header = build_set_cookie(
        "sid",
        "v",
        max_age=60,
        expires=datetime(2015, 10, 21, 7, 28, tzinfo=UTC),
        path="/app",
        domain="example.com",
        same_site="Strict",
        partitioned=True,
    )
    assert header == (
        "sid=v; Path=/app; Domain=example.com; Max-Age=60; "
        "Expires=Wed, 21 Oct 2015 07:28:00 GMT; Secure; HttpOnly; SameSite=Strict; Partitioned"
    )


def test_build_without_optional_attributes() -> None:
    header = build_set_cookie("a", path=None, secure=False, http_only=False, same_site=None)
    assert header == "a="


def test_build_max_age_adds_expires_from_now() -> None:
    before = int(time.time())
    header = build_set_cookie("a", "1", max_age=3600)
    after = int(time.time())
    assert "; Max-Age=3600; Expires=" in header
    expires = header.split("Expires=")[1].split(";")[0]
    parsed = datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert before + 3600 <= parsed.timestamp() <= after + 3600


def test_build_huge_max_age_clamps_expires() -> None:
    header = build_set_cookie("a", max_age=10**15)
    assert "Expires=Fri, 31 Dec 9999 23:59:59 GMT" in header
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in build_set_cookie("a", max_age=-(10**15))


def test_build_expires_forms() -> None:
    assert "Expires=Wed, 21 Oct 2015 07:28:00 GMT" in build_set_cookie("a", expires=1445412480)
    assert "Expires=Wed, 21 Oct 2015 07:28:00 GMT" in build_set_cookie("a", expires=1445412480.9)
    naive = datetime(2015, 10, 21, 7, 28)
    assert "Expires=Wed, 21 Oct 2015 07:28:00 GMT" in build_set_cookie("a", expires=naive)
    offset = datetime(2015, 10, 21, 9, 28, tzinfo=timezone(timedelta(hours=2)))
    assert "Expires=Wed, 21 Oct 2015 07:28:00 GMT" in build_set_cookie("a", expires=offset)


def test_build_expires_without_max_age() -> None:
    header = build_set_cookie("a", expires=0)
    assert "Max-Age" not in header
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in header


@pytest.mark.parametrize(
    "expires",
    [
        float("nan"),
        float("inf"),
        10**20,
        -(10**15),
        True,
        "tomorrow",
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_build_rejects_bad_expires(expires: object) -> None:
    with pytest.raises(ValueError, match=r"expires|timestamp"):
        build_set_cookie("a", expires=expires)  # type: ignore[arg-type]  # runtime check


@pytest.mark.parametrize("max_age", [True, 1.5, "60"])
def test_build_rejects_non_int_max_age(max_age: object) -> None:
    with pytest.raises(ValueError, match="max_age must be an int"):
        build_set_cookie("a", max_age=max_age)  # type: ignore[arg-type]  # runtime check


@pytest.mark.parametrize("name", ["", "a b", "a;b", "a=b", "é", "a\r\nb", "(x)", "a\x00"])
def test_build_rejects_invalid_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid token"):
        build_set_cookie(name, "v")


@pytest.mark.parametrize("value", ["a b", 'a"b', "a,b", "a;b", "a\\b", "é", "a\r\nb", "\x7f"])
def test_build_rejects_invalid_values(value: str) -> None:
    with pytest.raises(ValueError, match="encode it first"):
        build_set_cookie("a", value)


def test_build_rejects_oversized_cookie() -> None:
    with pytest.raises(ValueError, match="over 4096 bytes"):
        build_set_cookie("a", "x" * 4096)
    build_set_cookie("a", "x" * 4095)


@pytest.mark.parametrize("path", ["", "app", "/a;b", "/a\r\nSet-Cookie: x=y", "/\x00", "/é"])
def test_build_rejects_invalid_paths(path: str) -> None:
    with pytest.raises(ValueError, match="path"):
        build_set_cookie("a", path=path)


@pytest.mark.parametrize(
    "domain",
    ["", "a b.com", "example.com;x", "example.com\r\n", "-a.com", "a..com", "a.com.", "é.com"],
)
def test_build_rejects_invalid_domains(domain: str) -> None:
    with pytest.raises(ValueError, match="plain host name"):
        build_set_cookie("a", domain=domain)


def test_build_rejects_very_long_domain() -> None:
    with pytest.raises(ValueError, match="plain host name"):
        build_set_cookie("a", domain=".".join(["a" * 60] * 5))


def test_build_accepts_domains() -> None:
    for domain in ("example.com", "sub.example.co.uk", ".example.com", "localhost", "10.0.0.1"):
        assert f"; Domain={domain};" in build_set_cookie("a", domain=domain)


def test_build_same_site_validation() -> None:
    assert "SameSite=None" in build_set_cookie("a", same_site="None")
    with pytest.raises(ValueError, match="requires secure=True"):
        build_set_cookie("a", same_site="None", secure=False)
    with pytest.raises(ValueError, match="same_site must be"):
        build_set_cookie("a", same_site="lax")  # type: ignore[arg-type]  # runtime check


def test_build_partitioned_requires_secure() -> None:
    with pytest.raises(ValueError, match="partitioned=True requires secure=True"):
        build_set_cookie("a", partitioned=True, secure=False)


def test_build_host_prefix_rules() -> None:
    assert build_set_cookie("__Host-sid", "v").startswith("__Host-sid=v; Path=/;")
    for kwargs in ({"secure": False}, {"path": "/app"}, {"path": None}, {"domain": "a.com"}):
        with pytest.raises(ValueError, match="__Host- prefix"):
            build_set_cookie("__Host-sid", "v", **kwargs)
    with pytest.raises(ValueError, match="__Host- prefix"):
        build_set_cookie("__HOST-sid", "v", secure=False)


def test_build_secure_prefix_rules() -> None:
    assert build_set_cookie("__Secure-id", "v", path="/x", domain="a.com")
    with pytest.raises(ValueError, match="__Secure- prefix"):
        build_set_cookie("__Secure-id", "v", secure=False)
    with pytest.raises(ValueError, match="__Secure- prefix"):
        build_set_cookie("__secure-id", "v", secure=False)


def test_build_delete_cookie() -> None:
    assert build_delete_cookie("sid") == (
        "sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; "
        "SameSite=Lax"
    )
    header = build_delete_cookie(
        "sid", path="/app", domain="example.com", secure=False, http_only=False, same_site=None
    )
    assert header == (
        "sid=; Path=/app; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    )


def test_format_http_date() -> None:
    assert format_http_date(1445412480) == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert format_http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    with pytest.raises(ValueError, match="out of range"):
        format_http_date(float("nan"))
    with pytest.raises(ValueError, match="out of range"):
        format_http_date(10**20)


@given(st.text(TOKEN_CHARS, min_size=1, max_size=40), st.text(COOKIE_OCTETS, max_size=100))
def test_built_cookie_parses_back(name: str, value: str) -> None:
    header = build_set_cookie(name, value, path=None, secure=False, http_only=False, same_site=None)
    assert parse_cookie_header(header) == {name: value}
    assert cookie_values(f"{header}; {header}", name) == [value, value]


@given(st.text(), st.text(), st.text(), st.one_of(st.none(), st.text()))
def test_build_returns_safe_text_or_raises_value_error(
    name: str, value: str, path: str, domain: str | None
) -> None:
    try:
        header = build_set_cookie(name, value, path=path, domain=domain)
    except ValueError:
        return
    assert "\r" not in header
    assert "\n" not in header
    assert "\x00" not in header
    assert header.isascii()
