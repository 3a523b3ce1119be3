"""The host/origin parser: canonical forms, hostile Host forms, origins, patterns, properties."""

from __future__ import annotations

import contextlib
import string
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo.exceptions import FlasgoError
from flasgo.origin import (
    MAX_HOST_LENGTH,
    Host,
    HostPattern,
    InvalidHostError,
    InvalidOriginError,
    Origin,
    parse_host,
    parse_host_pattern,
    parse_origin,
    parse_origin_pattern,
    parse_referer,
    request_origin,
)
from tests.linear import linear_ratio

# -- Host ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Example.COM", Host("example.com")),
        ("example.com.", Host("example.com")),
        ("example.com.:8080", Host("example.com", 8080)),
        ("example.com:8080", Host("example.com", 8080)),
        ("a_b.example", Host("a_b.example")),
        ("xn--bcher-kva.example", Host("xn--bcher-kva.example")),
        ("localhost:65535", Host("localhost", 65535)),
        ("127.0.0.1:80", Host("127.0.0.1", 80, "ipv4")),
        ("1.2.3.4.", Host("1.2.3.4", None, "ipv4")),
        ("[::1]:8000", Host("[::1]", 8000, "ipv6")),
        ("[::1]", Host("[::1]", None, "ipv6")),
        ("[2001:DB8::1]", Host("[2001:db8::1]", None, "ipv6")),
        ("a" * 63 + ".example", Host("a" * 63 + ".example")),
        ("0xfoo.example", Host("0xfoo.example")),  # not a number: an ordinary label
    ],
)
def test_valid_hosts_parse_to_their_canonical_form(value: str, expected: Host) -> None:
    assert parse_host(value) == expected


# Each class of hostile Host from the security catalogue (F1-F5, B14, B15, E7, O1, O3, O8) and
# the reason the parser gives; the allowlist turns every one into a 400 (tests/security).
HOSTILE_HOSTS = [
    ("", "empty"),
    ("a" * (MAX_HOST_LENGTH + 1), "too-long"),  # B14: capped before any pattern runs
    ("[" + "1:" * 50_000 + "]", "too-long"),  # B15: a 100 KB "IPv6 address"
    ("a" * 254, "label"),
    ("a" * 64 + ".example", "label"),
    ("example.com@evil.tld", "userinfo"),  # F2
    ("user:pass@example.com", "userinfo"),
    ("example.com\\@evil.tld", "userinfo"),
    ("example.com:80/badpath", "path"),  # F2
    ("example.com/abc?x=", "path"),  # F5: a Host that rewrites the path
    ("example.com?x", "path"),
    ("example.com#x", "path"),
    ("example.com\\evil", "path"),
    ("example.com: recovermypassword.com", "port"),  # F2
    ("example.com:port", "port"),  # F2
    ("example.com:", "port"),
    ("example.com:0", "port"),
    ("example.com:080", "port"),
    ("example.com:65536", "port"),
    ("example.com:123456", "port"),
    ("example.com:\u0668\u0660", "character"),  # B18: Arabic-Indic digits
    ("example.com:\uff18\uff10", "character"),  # fullwidth digits
    ("example.com:80:80", "port"),
    ("example.com..", "label"),  # F2
    ("example..com", "label"),
    (".example.com", "label"),
    ("-example.com", "label"),
    ("example-.com", "label"),
    ("exa mple.com", "character"),
    (" example.com", "character"),
    ("example.com\t", "character"),
    ("example.com\r\nx: y", "character"),  # E7
    ("example.com\x00", "character"),
    ("exa\u00e9mple.com", "character"),
    ("example\u3002com", "character"),  # ideographic full stop
    ("\u212aelvin.example", "character"),  # lower() would make it ASCII "k"
    ("*.example.com", "wildcard"),
    ("127.1", "ipv4"),  # O3: getaddrinfo reads these as 127.0.0.1
    ("0x7f.1", "ipv4"),
    ("2130706433", "ipv4"),
    ("017700000001", "ipv4"),
    ("0127.0.0.1", "ipv4"),  # O1: octal or decimal depending on the reader
    ("1.2.3.4.5", "ipv4"),
    ("example.123", "ipv4"),
    ("example.0x10", "ipv4"),
    ("example.0X", "ipv4"),  # WHATWG reads a bare "0x" as the number 0
    ("[evil.com]", "ipv6"),  # O8
    ("[fe80::1%eth0]", "ipv6"),
    ("[fe80::1%25eth0]", "ipv6"),
    ("[::1", "ipv6"),
    ("[0:0::1]", "ipv6"),  # not the canonical spelling a browser sends
    ("[::ffff:127.0.0.1]", "ipv6"),
    ("::1", "ipv6"),
]


@pytest.mark.parametrize(("value", "reason"), HOSTILE_HOSTS)
def test_hostile_hosts_are_refused_with_a_reason(value: str, reason: str) -> None:
    with pytest.raises(InvalidHostError) as refused:
        parse_host(value)
    assert refused.value.reason == reason
    assert isinstance(refused.value, FlasgoError)
    assert isinstance(refused.value, ValueError)


def test_error_message_is_short_and_says_what_is_wrong() -> None:
    with pytest.raises(InvalidHostError) as refused:
        parse_host("x" * 500 + "@evil")
    assert refused.value.problem == "is not a valid host name: it is too long"
    assert len(str(refused.value)) < 200


def test_config_entries_are_idna_encoded_and_ipv6_spelled_canonically() -> None:
    assert parse_host("B\u00fccher.Example:8080", config=True) == Host(
        "xn--bcher-kva.example", 8080
    )
    assert parse_host("[0:0::1]", config=True) == Host("[::1]", None, "ipv6")
    assert parse_host("[::ffff:127.0.0.1]", config=True).name == "[::ffff:7f00:1]"
    with pytest.raises(InvalidHostError) as refused:
        parse_host("B\u00fccher.example")
    assert refused.value.reason == "character"
    with pytest.raises(InvalidHostError) as refused:
        parse_host("a\u00fc..example", config=True)
    assert refused.value.reason == "idna"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("b\u00fccher.example:\uff18\uff10", "character"),  # fullwidth port digits
        ("b\u00fccher.example\uff1a80", "idna"),  # fullwidth colon
        ("b\u00fccher.example\uff0fpath", "idna"),  # fullwidth slash
        ("evil\uff20b\u00fccher.example", "idna"),  # fullwidth '@'
    ],
)
def test_config_idna_cannot_smuggle_ascii_delimiters(value: str, reason: str) -> None:
    # SECURITY: IDNA's NFKC maps fullwidth forms to ASCII ':', '/', '@' and digits.
    with pytest.raises(InvalidHostError) as refused:
        parse_host(value, config=True)
    assert refused.value.reason == reason


# -- Origin and Referer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com", Origin("https", "example.com", 443)),
        ("HTTPS://Example.COM:443", Origin("https", "example.com", 443)),
        ("http://localhost:80", Origin("http", "localhost", 80)),
        ("http://localhost:8080", Origin("http", "localhost", 8080)),
        ("https://example.com.", Origin("https", "example.com.", 443)),
        ("https://[::1]:8443", Origin("https", "[::1]", 8443)),
        ("wss://example.com", Origin("wss", "example.com", 443)),
        ("chrome-extension://abcdef", Origin("chrome-extension", "abcdef", None)),
    ],
)
def test_origins_parse_with_default_ports_written_out(value: str, expected: Origin) -> None:
    assert parse_origin(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("null", "null"),  # N3: sandboxed frames and data: URLs
        ("NULL", "scheme"),
        ("", "scheme"),
        ("example.com", "scheme"),
        ("//example.com", "scheme"),
        ("1http://example.com", "scheme"),
        ("ht\u212atp://example.com", "scheme"),
        ("s" * 40 + "://example.com", "scheme"),
        ("https://", "empty"),
        ("https://example.com/", "path"),
        ("https://example.com/path", "path"),
        ("https://user@example.com", "userinfo"),
        ("https://evil.example#@example.com", "userinfo"),
        ("https://example.com:0443", "port"),
        ("https://127.1", "ipv4"),
        ("https://b\u00fccher.example", "character"),
        ("https://*.example.com", "wildcard"),
    ],
)
def test_invalid_origins_are_refused(value: str, reason: str) -> None:
    with pytest.raises(InvalidOriginError) as refused:
        parse_origin(value)
    assert refused.value.reason == reason


def test_same_origin_is_equality_with_default_ports() -> None:
    assert parse_origin("https://a.example") == parse_origin("https://a.example:443")
    assert parse_origin("http://a.example") != parse_origin("https://a.example")
    assert parse_origin("https://a.example:8443") != parse_origin("https://a.example")
    # A trailing dot is another origin to a browser, and to us.
    assert parse_origin("https://a.example.") != parse_origin("https://a.example")
    assert str(parse_origin("HTTPS://A.example:443")) == "https://a.example"
    assert str(parse_origin("https://a.example:8443")) == "https://a.example:8443"


def test_request_origin_uses_the_page_scheme_and_keeps_the_host_spelling() -> None:
    assert request_origin("https", "Example.com") == parse_origin("https://example.com")
    assert request_origin("wss", "example.com:443") == parse_origin("https://example.com")
    assert request_origin("ws", "localhost:8000") == parse_origin("http://localhost:8000")
    assert request_origin("http", "example.com.") == parse_origin("http://example.com.")
    with pytest.raises(InvalidHostError) as refused:
        request_origin("http", "example.com@evil")
    assert refused.value.reason == "userinfo"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://App.example.com:8443/a/b?c#d", "https://app.example.com:8443"),
        ("http://localhost/", "http://localhost"),
        ("http://localhost", "http://localhost"),
        ("https://example.com?q=http://evil.example/", "https://example.com"),
        ("https://example.com#/x", "https://example.com"),
    ],
)
def test_referer_origin(value: str, expected: str) -> None:
    assert str(parse_referer(value)) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not a url", "scheme"),
        ("/relative/path", "scheme"),
        ("https://user:pass@example.com/", "userinfo"),
        ("http://127.0.0.1\\@public.example/", "userinfo"),  # O6: parsers disagree: refuse
        ("http://evil.example\\.example.com/", "path"),
        ("https:///path", "empty"),
        ("null", "scheme"),
    ],
)
def test_invalid_referers_are_refused(value: str, reason: str) -> None:
    with pytest.raises(InvalidOriginError) as refused:
        parse_referer(value)
    assert refused.value.reason == reason


# -- settings patterns ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("example.com", HostPattern("example.com")),
        ("Example.COM.", HostPattern("example.com")),
        (".example.com", HostPattern("example.com", subdomains=True)),
        ("127.0.0.1", HostPattern("127.0.0.1")),
        ("[::1]", HostPattern("[::1]")),
        ("[0:0::1]", HostPattern("[::1]")),
        ("::1", HostPattern("[::1]")),
        ("b\u00fccher.example", HostPattern("xn--bcher-kva.example")),
    ],
)
def test_host_patterns(entry: str, expected: HostPattern) -> None:
    pattern = parse_host_pattern(entry)
    assert pattern == expected
    assert parse_host_pattern(str(pattern)) == pattern


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("*", "wildcard"),
        ("*.example.com", "wildcard"),
        ("example.com:8000", "has-port"),
        ("[::1]:8000", "has-port"),
        ("127.0.0.1:8000", "has-port"),
        ("https://example.com", "has-scheme"),
        ("example.com/path", "path"),
        ("user@example.com", "userinfo"),
        (".127.0.0.1", "ip-subdomains"),
        (".[::1]", "ip-subdomains"),
        ("example.123", "ipv4"),
        ("", "empty"),
        (".", "empty"),
    ],
)
def test_invalid_host_patterns(entry: str, reason: str) -> None:
    with pytest.raises(InvalidHostError) as refused:
        parse_host_pattern(entry)
    assert refused.value.reason == reason


def test_host_pattern_matching() -> None:
    apex = parse_host_pattern(".example.com")
    assert apex.matches("example.com")
    assert apex.matches("a.b.example.com")
    assert not apex.matches("badexample.com")
    assert not apex.matches("example.com.evil.test")
    exact = parse_host_pattern("example.com")
    assert exact.matches("example.com")
    assert not exact.matches("a.example.com")


@pytest.mark.parametrize(
    ("entry", "origin", "matches"),
    [
        ("https://example.com", "https://example.com:443", True),
        ("https://example.com", "http://example.com", False),
        ("https://example.com:8443", "https://example.com:8443", True),
        ("https://example.com:8443", "https://example.com", False),
        ("https://*.example.com", "https://a.b.example.com", True),
        ("https://*.example.com", "https://example.com", False),
        ("https://*.example.com", "https://badexample.com", False),
        ("https://*.example.com", "http://a.example.com", False),
        ("https://*.example.com", "https://a.example.com:8443", False),
        ("https://*.example.com:8443", "https://a.example.com:8443", True),
        ("HTTPS://*.B\u00fccher.example", "https://a.xn--bcher-kva.example", True),
    ],
)
def test_origin_patterns(entry: str, origin: str, matches: bool) -> None:
    pattern = parse_origin_pattern(entry)
    assert pattern.matches(parse_origin(origin)) is matches
    assert parse_origin_pattern(str(pattern)) == pattern


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("example.com", "scheme"),
        ("*.example.com", "scheme"),
        ("https://*.1.2.3.4", "ip-subdomains"),
        ("https://*.[::1]", "ip-subdomains"),
        ("https://a.*.example.com", "wildcard"),
        ("https://*", "wildcard"),
        ("https://example.com/", "path"),
        ("https://example.com:99999", "port"),
    ],
)
def test_invalid_origin_patterns(entry: str, reason: str) -> None:
    with pytest.raises(InvalidOriginError) as refused:
        parse_origin_pattern(entry)
    assert refused.value.reason == reason


# -- properties ----------------------------------------------------------------------------------

_HOST_ALPHABET = string.ascii_letters + string.digits + "-._:[]@/?#\\%* \t\x00\u00e9\u212a"
_any_text = st.one_of(st.text(max_size=300), st.text(_HOST_ALPHABET, max_size=80))


@given(_any_text, st.booleans())
def test_any_text_gives_a_host_or_raises_invalid_host(value: str, config: bool) -> None:
    try:
        host = parse_host(value, config=config)
    except InvalidHostError:
        return  # the documented failure; any other exception fails the test
    # What parses is canonical: formatting and parsing again gives the same value.
    assert parse_host(str(host), config=config) == host


@given(_any_text, st.booleans())
def test_any_text_gives_an_origin_or_raises_invalid_origin(value: str, config: bool) -> None:
    try:
        origin = parse_origin(value, config=config)
    except InvalidOriginError:
        return  # the documented failure; any other exception fails the test
    assert parse_origin(str(origin), config=config) == origin


@given(_any_text)
def test_any_text_gives_a_referer_origin_or_raises_invalid_origin(value: str) -> None:
    try:
        origin = parse_referer(value)
    except InvalidOriginError:
        return  # the documented failure; any other exception fails the test
    assert parse_origin(str(origin)) == origin


@given(_any_text)
def test_any_text_gives_a_host_pattern_or_raises_invalid_host(value: str) -> None:
    try:
        pattern = parse_host_pattern(value)
    except InvalidHostError:
        return  # the documented failure; any other exception fails the test
    assert parse_host_pattern(str(pattern)) == pattern


@given(_any_text)
def test_any_text_gives_an_origin_pattern_or_raises_invalid_origin(value: str) -> None:
    try:
        pattern = parse_origin_pattern(value)
    except InvalidOriginError:
        return  # the documented failure; any other exception fails the test
    assert parse_origin_pattern(str(pattern)) == pattern


@given(_any_text)
def test_a_request_host_that_parses_is_already_canonical(value: str) -> None:
    try:
        host = parse_host(value)
    except InvalidHostError:
        return
    # Only case and one trailing dot differ from the canonical text: nothing is reinterpreted.
    text = value.lower()
    if not text.startswith("["):
        name, colon, port = text.partition(":")
        text = name.removesuffix(".") + colon + port
    assert str(host) == text


_label = st.from_regex(r"[a-z_](?:[a-z0-9_-]{0,20}[a-z0-9_])?", fullmatch=True)
_names = st.lists(_label, min_size=1, max_size=5).map(".".join)
_ports = st.one_of(st.none(), st.integers(1, 65535))
_hosts = st.one_of(
    st.builds(Host, _names, _ports),
    st.builds(lambda ip, port: Host(str(ip), port, "ipv4"), st.ip_addresses(v=4), _ports),
    st.builds(
        # The canonical text (parsed from the exploded form): ipaddress's own `compressed`
        # spells IPv4-mapped addresses differently from Python 3.13 on.
        lambda ip, port: Host(parse_host(f"[{ip.exploded}]", config=True).name, port, "ipv6"),
        st.ip_addresses(v=6),
        _ports,
    ),
)


@given(_hosts)
def test_valid_hosts_round_trip(host: Host) -> None:
    assert parse_host(str(host)) == host


@given(_hosts, st.sampled_from(["http", "https", "ws", "wss", "git+ssh"]))
def test_valid_origins_round_trip(host: Host, scheme: str) -> None:
    origin = request_origin(scheme, str(host))
    assert parse_origin(str(origin)) == origin
    assert parse_referer(f"{origin}/some/path?x=1#y") == origin


@given(_hosts, st.sampled_from(["http", "https"]))
def test_default_port_spelled_out_is_the_same_origin(host: Host, scheme: str) -> None:
    bare = parse_origin(f"{scheme}://{host.name}")
    explicit = parse_origin(f"{scheme}://{host.name}:{80 if scheme == 'http' else 443}")
    assert bare == explicit


# -- cost ----------------------------------------------------------------------------------------


def test_host_parsing_is_linear() -> None:
    def batch(value: str) -> Callable[[], None]:
        def run() -> None:
            for _ in range(200):
                with contextlib.suppress(InvalidHostError):
                    parse_host(value)

        return run

    # Under the cap, where the pattern runs: valid labels then one that fails at its end
    # (each label backtracks within itself only), and labels that are all hyphens inside.
    assert linear_ratio(batch("a-b." * 30 + "-"), batch("a-b." * 60 + "-")) <= 2.5
    assert linear_ratio(batch("a" + "-" * 60 + "b."), batch(("a" + "-" * 60 + "b.") * 2)) <= 2.5
    assert linear_ratio(batch("a." * 60), batch("a." * 120)) <= 2.5


def test_referer_parsing_is_linear() -> None:
    def batch(size: int) -> Callable[[], None]:
        value = "https://example.com" + "/?#" * size

        def run() -> None:
            for _ in range(20):
                parse_referer(value)

        return run

    assert linear_ratio(batch(20_000), batch(40_000)) <= 2.5
    with_colons = "https://" + "a:" * 20_000
    assert (
        linear_ratio(
            lambda: [_refused(parse_referer, with_colons[: 20_000 + 8]) for _ in range(20)],
            lambda: [_refused(parse_referer, with_colons) for _ in range(20)],
        )
        <= 2.5
    )


def _refused(parse: object, value: str) -> bool:
    try:
        parse(value)  # type: ignore[operator]
    except InvalidHostError:
        return True
    return False


@pytest.mark.parametrize(
    ("literal", "canonical"),
    [
        ("[::1]", "[::1]"),
        ("[::]", "[::]"),
        ("[2001:db8:0:0:1:0:0:1]", "[2001:db8::1:0:0:1]"),
        ("[2001:0:0:1:0:0:0:1]", "[2001:0:0:1::1]"),
        ("[1:2:3:4:5:6:7:8]", "[1:2:3:4:5:6:7:8]"),
        ("[1:0:3:4:5:6:7:8]", "[1:0:3:4:5:6:7:8]"),
        ("[0:0:0:0:0:ffff:7f00:1]", "[::ffff:7f00:1]"),
    ],
)
def test_ipv6_literals_take_one_canonical_form_on_every_python(
    literal: str, canonical: str
) -> None:
    # RFC 5952: the longest run of two or more zero groups becomes "::" (the first on a tie);
    # IPv4-mapped addresses stay in hex groups, as browsers write them.
    assert parse_host(literal, config=True).name == canonical
