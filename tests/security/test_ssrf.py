"""Tests for flasgo.security.ssrf: every class of security-cases rows O1-O12 (and D4-D6 forms).

No test touches DNS: names resolve through an injected resolver, and the real
``socket.getaddrinfo`` is replaced by one that fails the test if it is ever reached.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, get_args
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flasgo import Flasgo, SSRFConfig, SSRFGuard, SSRFResolvedURL, SSRFViolation
from flasgo.exceptions import ConfigurationError, FlasgoError
from flasgo.security.outbound import SafeHTTPClient
from flasgo.security.ssrf import ViolationReason, address_problem, is_loopback_name
from flasgo.settings import Settings
from tests.linear import linear_ratio

PUBLIC = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


def resolver_for(table: Mapping[str, Iterable[str]]) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(table[host])

    return resolve


@pytest.fixture(autouse=True)
def no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a test reached the real getaddrinfo")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def guard(table: Mapping[str, Iterable[str]] | None = None, **options: Any) -> SSRFGuard:
    return SSRFGuard(SSRFConfig(**options), resolver=resolver_for(table or {}))


def refused(url: str, reason: str, **options: Any) -> SSRFViolation:
    with pytest.raises(SSRFViolation) as info:
        guard(**options).validate_url(url)
    assert info.value.reason == reason, str(info.value)
    return info.value


# -- defaults and configuration ------------------------------------------------------------------


def test_defaults_match_upstream() -> None:
    config = SSRFConfig()
    assert config.enabled is True
    assert config.allowed_schemes == {"http", "https"}
    assert config.allowed_hosts == frozenset()
    assert config.allow_private_networks is False
    assert config.allow_userinfo is False
    assert config.allow_unresolvable_hosts is False
    assert config.resolution_timeout_seconds == 5.0
    assert config.allowed_ports is None
    assert config.allowed_networks == frozenset()


def test_from_settings_reads_every_ssrf_key() -> None:
    assert SSRFConfig.from_settings(Settings()) == SSRFConfig()
    settings = Settings(
        SSRF_ENABLED=False,
        SSRF_ALLOWED_SCHEMES={"https"},
        SSRF_ALLOWED_HOSTS={".Example.com", "*"},
        SSRF_ALLOW_PRIVATE_NETWORKS=True,
        SSRF_ALLOW_USERINFO=True,
        SSRF_ALLOW_UNRESOLVABLE_HOSTS=True,
        SSRF_RESOLUTION_TIMEOUT_SECONDS=None,
    )
    assert SSRFConfig.from_settings(settings) == SSRFConfig(
        enabled=False,
        allowed_schemes=frozenset({"https"}),
        allowed_hosts=frozenset({".example.com", "*"}),
        allow_private_networks=True,
        allow_userinfo=True,
        allow_unresolvable_hosts=True,
        resolution_timeout_seconds=None,
    )


def test_config_normalises_host_entries() -> None:
    config = SSRFConfig(
        allowed_hosts=frozenset({"API.Example.COM.", "[::1]", "bücher.de", "*.X.org", "127.0.0.1"})
    )
    assert config.allowed_hosts == {
        "api.example.com",
        "[::1]",
        "xn--bcher-kva.de",
        "*.x.org",
        "127.0.0.1",
    }


@pytest.mark.parametrize(
    "options",
    [
        {"allowed_schemes": frozenset()},
        {"allowed_schemes": frozenset({"1http"})},
        {"resolution_timeout_seconds": 0},
        {"resolution_timeout_seconds": -1.0},
        {"allowed_ports": frozenset({0})},
        {"allowed_ports": frozenset({65536})},
        {"allowed_networks": frozenset({"127.0.0.1/8"})},
        {"allowed_networks": frozenset({"not a network"})},
        {"allowed_hosts": frozenset({"exa mple.com"})},
        {"allowed_hosts": frozenset({"a/b"})},
        {"allowed_hosts": frozenset({".127.0.0.1"})},
        {"allowed_hosts": frozenset({"0x7f.1"})},
    ],
)
def test_bad_config_is_a_configuration_error(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        SSRFConfig(**options)


def test_a_url_that_is_not_a_string_is_a_violation() -> None:
    with pytest.raises(SSRFViolation):
        SSRFGuard().validate_url(b"http://example.com/")  # type: ignore[arg-type]  # on purpose


def test_violation_is_a_value_error_and_a_flasgo_error() -> None:
    error = refused("file:///etc/passwd", "scheme")
    assert isinstance(error, ValueError)
    assert isinstance(error, FlasgoError)


# -- O12: schemes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://example.com:70/_x",
        "ftp://example.com/",
        "dict://example.com:11211/stat",
        "javascript:alert(1)",
        "data:text/html,x",
        "//example.com/",
        "example.com/path",
        "",
    ],
)
def test_scheme_outside_the_allowlist_is_refused(url: str) -> None:
    refused(url, "scheme")


def test_scheme_allowlist_is_configurable_and_case_insensitive() -> None:
    assert guard().validate_url("HTTPS://Example.COM/") == "https://example.com/"
    refused("http://example.com/", "scheme", allowed_schemes=frozenset({"https"}))
    assert guard(allowed_schemes=frozenset({"wss"})).validate_url("wss://example.com/s")
    refused("gopher://example.com/", "port", allowed_schemes=frozenset({"gopher"}))


# -- O6, O7, D5, D6: characters that parsers read differently ------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1\\@public.example/",
        "http://public.example\\@127.0.0.1/",
        "http:\\\\127.0.0.1/",
        "http://public.example/\\127.0.0.1",
        " http://127.0.0.1/",
        "http://127.0.0.1/ ",
        "\x08http://public.example/",
        "http://pub\tlic.example/",
        "http://public.example\n/",
        "http://public.example\r\nHost: evil/",
        "http://public.example/\x00",
        "http://public.example/\x7f",
        "http://public\u200b.example/",
        "http://public.example\u3000/",
        "http://public.example/\u202e",
    ],
)
def test_backslashes_blanks_and_controls_are_refused(url: str) -> None:
    refused(url, "syntax")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://public.example#@127.0.0.1/", "syntax"),
        ("http://public.example?@127.0.0.1/", "syntax"),
        ("http://public.example/x?next=a@127.0.0.1", "syntax"),
        ("http://a@b@127.0.0.1/", "userinfo"),
        ("http://user:pass@public.example/", "userinfo"),
        ("https://user@public.example/", "userinfo"),
        ("http://@public.example/", "userinfo"),
    ],
)
def test_userinfo_and_stray_at_signs_are_refused(url: str, reason: str) -> None:
    refused(url, reason)


def test_userinfo_when_allowed_keeps_exactly_one_at_sign() -> None:
    g = guard({"public.example": [PUBLIC]}, allow_userinfo=True)
    assert g.validate_url("http://user:pw@public.example/") == "http://user:pw@public.example/"
    resolved = g.resolve_url("http://user:pw@public.example:8080/")
    assert resolved.url == f"http://user:pw@{PUBLIC}:8080/"
    with pytest.raises(SSRFViolation) as info:
        g.validate_url("http://a@b@public.example/")
    assert info.value.reason == "userinfo"


def test_an_at_sign_in_the_path_is_fine_and_percent_encoded_ones_anywhere() -> None:
    g = guard()
    assert g.validate_url("https://example.com/@me") == "https://example.com/@me"
    assert (
        g.validate_url("https://example.com/?e=a%40b#x%40y") == "https://example.com/?e=a%40b#x%40y"
    )


# -- O8 and host syntax --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[evil.com]/", "syntax"),
        ("http://[v1.fe80::a]/", "host"),
        ("http://[::1/", "syntax"),
        ("http://[fe80::1%25eth0]/", "host"),
        ("http://[2606:4700::1111]x/", "host"),
        ("http://::1/", "host"),
        ("http://a]b.example/", "syntax"),
        ("http://:80/", "host"),
        ("http:///example.com/", "host"),
        ("http:/example.com/", "host"),
        ("http://%31%32%37.0.0.1/", "host"),
        ("http://%6c%6f%63%61%6c%68%6f%73%74/", "host"),
        ("http://exa_mple-.com/", "host"),
        ("http://-example.com/", "host"),
        ("http://exa$mple.com/", "host"),
        ("http://a..b.example/", "host"),
        ("http://" + "a" * 64 + ".example/", "host"),
        ("http://" + "a." * 126 + "ab/", "host"),
        ("http://xn--a.example/\u0000", "syntax"),
        ("http://\u00ad.example/", "syntax"),
        ("http://\ufdd0.example/", "syntax"),
        ("http://a\uff0fb.example/", "syntax"),
        ("http://a\uff3cb.example/", "host"),
        ("http://" + "ü" * 70 + ".example/", "host"),
    ],
)
def test_malformed_hosts_are_refused(url: str, reason: str) -> None:
    refused(url, reason)


def test_text_after_a_bracketed_host_has_the_same_reason_on_every_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import flasgo.security.ssrf as ssrf_module

    # Python 3.14's urlsplit raises for this URL where 3.11 splits it: play 3.14 on any version.
    def strict_urlsplit(url: str) -> Any:
        if "]x" in url:
            raise ValueError("Invalid IPv6 URL")
        return urlsplit(url)

    monkeypatch.setattr(ssrf_module, "urlsplit", strict_urlsplit)
    assert str(refused("http://[2606:4700::1111]x/", "host")) == "URL host has unbalanced brackets"
    refused("http://user@[::1]x:80/", "host", allow_userinfo=True)


def test_hosts_are_idna_encoded_lower_cased_and_lose_the_trailing_dot() -> None:
    g = guard({"xn--bcher-kva.example": [PUBLIC]})
    assert g.validate_url("http://BÜCHER.example./ü?q=é#ö") == (
        "http://xn--bcher-kva.example/%C3%BC?q=%C3%A9#%C3%B6"
    )
    resolved = g.resolve_url("http://bücher.example/")
    assert resolved.hostname == "xn--bcher-kva.example"
    assert resolved.host_header == "xn--bcher-kva.example"


def test_the_longest_valid_host_is_accepted() -> None:
    host = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(host) == 253
    assert guard().validate_url(f"https://{host}/") == f"https://{host}/"


# -- ports ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "port", ["0", "65536", "99999", "+80", "-1", "٨٠", "８０", "0x50", "", "1" * 6]
)
def test_ports_must_be_ascii_digits_in_range(port: str) -> None:
    refused(f"http://example.com:{port}/", "port")


def test_a_blank_before_the_port_is_a_syntax_error() -> None:
    refused("http://example.com: 80/", "syntax")


def test_port_allowlist_is_opt_in() -> None:
    assert guard().validate_url("http://example.com:65535/")
    ports = frozenset({80, 443})
    refused("http://example.com:8080/", "port", allowed_ports=ports)
    assert guard(allowed_ports=ports).validate_url("https://example.com/")
    assert guard(allowed_ports=ports).validate_url("http://example.com:80/")


# -- O1-O3: odd IPv4 forms, judged the way inet_aton and WHATWG read them --------------------------


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "127.1",
        "127.0.1",
        "0177.0.0.1",
        "017700000001",
        "0x7F.0.0.1",
        "127.0.0.1.",
        "0",
        "0x0",
        "0x",
        "0x.0x.0x.0x",
        "0.0.0.0",
        "169.254.43518",
        "0xa9.0xfe.0xa9.0xfe",
        "2852039166",
        "１２７。０。０。１",
        "127．0．0．1",
    ],
)
def test_odd_ipv4_forms_of_blocked_addresses_are_judged_by_their_value(host: str) -> None:
    error = refused(f"http://{host}/", "address")
    assert "resolve" not in str(error)


@pytest.mark.parametrize(
    "host", ["0127.0.0.1", "0x8.8.8.8", "134744072", "8.8.2056", "010.8.8.8", "8.8.8.8."]
)
def test_non_canonical_forms_of_public_or_private_addresses_are_refused(host: str) -> None:
    refused(f"http://{host}/", "host")


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4.5",
        "256.0.0.1",
        "4294967296",
        "08.0.0.1",
        "0x1.0x1ffffff",
        "foo.123",
        "a.0x1f",
        "1..1",
    ],
)
def test_numeric_hosts_that_are_not_ipv4_are_refused(host: str) -> None:
    refused(f"http://{host}/", "host")


def test_names_that_only_look_numeric_are_names() -> None:
    table = {"123.example": [PUBLIC], "0x7f.example": [PUBLIC]}
    assert guard(table).resolve_url("http://123.example/").address == PUBLIC
    assert guard(table).resolve_url("http://0x7f.example/").address == PUBLIC


# -- O4, O5: the address rules -------------------------------------------------------------------

ALWAYS_BLOCKED = [
    "0.0.0.0",
    "0.1.2.3",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",
    "169.254.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.5",
    "::",
    "::1",
    "fe80::1",
    "ff02::1",
    "100::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:0:0",
    "::127.0.0.1",
    "::8.8.8.8",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "2002:7f00:1::",
    "2002:a9fe:a9fe::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:0:7f00:1::1",
    "2001:10::1",
    "64:ff9b:1::7f00:1",
    "64:ff9b:1:7f00:0:100::",
    "64:ff9b:1::8.8.8.8",
]
PRIVATE = [
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "::ffff:10.0.0.1",
    "64:ff9b::a00:1",
    "2002:c0a8:101::1",
    "64:ff9b:1:808:8:800:808:808",
]
GLOBAL = [
    "8.8.8.8",
    "1.1.1.1",
    PUBLIC,
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "11.0.0.1",
    "2606:4700:4700::1111",
    PUBLIC_V6,
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


def literal(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@pytest.mark.parametrize("address", ALWAYS_BLOCKED)
def test_special_addresses_are_refused_even_with_private_networks_allowed(address: str) -> None:
    refused(f"http://{literal(address)}/", "address", allow_private_networks=True)


@pytest.mark.parametrize("address", PRIVATE)
def test_private_addresses_are_refused_unless_allowed(address: str) -> None:
    error = refused(f"http://{literal(address)}/", "address")
    assert "private" in str(error)
    assert guard(allow_private_networks=True).validate_url(f"http://{literal(address)}/")


@pytest.mark.parametrize("address", GLOBAL)
def test_global_addresses_pass(address: str) -> None:
    url = f"http://{literal(address)}:8080/x"
    resolved = guard().resolve_url(url)
    assert resolved.address == str(ipaddress.ip_address(address))


def test_allowed_networks_exempt_exactly_their_addresses() -> None:
    g = guard(allowed_networks=frozenset({"127.0.0.1/32", "fd00::/64"}))
    assert g.resolve_url("http://127.0.0.1:9000/").address == "127.0.0.1"
    assert g.resolve_url("http://[fd00::5]/").address == "fd00::5"
    for url in ("http://127.0.0.2/", "http://[::1]/", "http://169.254.169.254/", "http://127.1/"):
        with pytest.raises(SSRFViolation):
            g.validate_url(url)


ipv4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)


@given(ipv4, st.booleans())
def test_embedded_ipv4_is_judged_like_the_ipv4_itself(
    address: ipaddress.IPv4Address, allow_private: bool
) -> None:
    value = int(address)
    verdict = address_problem(address, allow_private=allow_private) is None
    for prefix in (0xFFFF << 32, 0x64FF9B << 96):
        wrapped = ipaddress.IPv6Address(prefix | value)
        assert (address_problem(wrapped, allow_private=allow_private) is None) is verdict
    six_to_four = ipaddress.IPv6Address(0x2002 << 112 | value << 80 | 1)
    assert (address_problem(six_to_four, allow_private=allow_private) is None) is verdict
    if not verdict:
        compatible = ipaddress.IPv6Address(value)
        teredo = ipaddress.IPv6Address(0x20010000 << 96 | value << 64 | 0xFFFFFFFF)
        assert address_problem(compatible, allow_private=allow_private) is not None
        assert address_problem(teredo, allow_private=allow_private) is not None


@given(st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address))
def test_any_ipv6_address_passes_only_if_global(address: ipaddress.IPv6Address) -> None:
    problem = address_problem(address, allow_private=True)
    if problem is None:
        embedded = address.ipv4_mapped or address.sixtofour
        assert embedded is None or embedded.is_global or embedded.is_private
        assert not address.is_loopback
        assert not address.is_multicast
        assert not address.is_link_local
        assert not address.is_unspecified


@given(ipv4)
def test_any_ipv4_literal_gets_the_same_verdict_as_its_resolved_form(
    address: ipaddress.IPv4Address,
) -> None:
    g = guard({"name.example": [str(address)]})
    outcomes = {
        outcome(lambda: g.validate_url(f"http://{address}/")),
        outcome(lambda: g.resolve_url("http://name.example/")),
        outcome(lambda: g.validate_url(f"http://[::ffff:{address}]/")),
    }
    assert len(outcomes) == 1
    assert outcomes <= {"ok", "address"}


def outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except SSRFViolation as exc:
        return exc.reason
    return "ok"


# -- allowlist -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "host", "allowed"),
    [
        ({"api.example.com"}, "api.example.com", True),
        ({"api.example.com"}, "API.EXAMPLE.COM.", True),
        ({"api.example.com"}, "x.api.example.com", False),
        ({"api.example.com"}, "api.example.com.evil.net", False),
        ({".example.com"}, "example.com", True),
        ({".example.com"}, "a.b.example.com", True),
        ({".example.com"}, "evilexample.com", False),
        ({".example.com"}, "example.com.evil.net", False),
        ({"*.example.com"}, "a.example.com", True),
        ({"*.example.com"}, "example.com", False),
        ({"*"}, "anything.example", True),
        ({"8.8.8.8"}, "8.8.8.8", True),
        ({"8.8.8.8"}, "8.8.4.4", False),
        ({"[2606:4700::1111]"}, "[2606:4700:0::1111]", True),
        ({"bücher.de"}, "xn--bcher-kva.de", True),
    ],
)
def test_host_allowlist(patterns: set[str], host: str, allowed: bool) -> None:
    g = guard(allowed_hosts=frozenset(patterns))
    url = f"https://{host}/"
    if allowed:
        assert g.validate_url(url)
    else:
        with pytest.raises(SSRFViolation) as info:
            g.validate_url(url)
        assert info.value.reason == "host_not_allowed"


def test_the_allowlist_does_not_exempt_addresses() -> None:
    g = guard({"internal.example.com": ["10.0.0.5"]}, allowed_hosts=frozenset({".example.com"}))
    with pytest.raises(SSRFViolation) as info:
        g.resolve_url("https://internal.example.com/")
    assert info.value.reason == "address"
    refused("http://127.0.0.1/", "address", allowed_hosts=frozenset({"127.0.0.1"}))


# -- loopback names (RFC 6761), refused by every API without DNS ---------------------------------

LOOPBACK_NAMES = [
    "localhost",
    "LOCALHOST",
    "LocalHost",
    "localhost.",
    "LOCALHOST.",
    "a.localhost",
    "a.b.localhost",
    "A.B.LOCALHOST.",
    "ℓocalhost",  # U+2113, mapped to "l" by IDNA
    "ｌｏｃａｌｈｏｓｔ",  # fullwidth letters
    "local\u034fhost",  # a combining grapheme joiner, which IDNA maps to nothing
    "localhost\u3002",  # an ideographic full stop is a dot to IDNA
    "xn--ocalhost-lj5d",  # the punycode of "ℓocalhost", which a lax consumer maps back
    "api.xn--ocalhost-lj5d",
    "localhost.localdomain",
    "ip6-localhost",
    "ip6-loopback",
]


def explode(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host!r} was sent to the resolver")


def resolving_apis(g: SSRFGuard, url: str) -> list[Callable[[], object]]:
    """The guard's resolving entry points, each bound to `url`."""
    return [partial(g.resolve_url, url), lambda: asyncio.run(g.aresolve_url(url))]


def every_api(g: SSRFGuard, url: str) -> list[Callable[[], object]]:
    """The guard's three entry points, each bound to `url`."""
    return [partial(g.validate_url, url), *resolving_apis(g, url)]


@pytest.mark.parametrize("host", LOOPBACK_NAMES)
def test_loopback_names_are_refused_by_name_in_every_api(host: str) -> None:
    g = SSRFGuard(resolver=explode)
    for url in (f"http://{host}/admin", f"https://{host}:8443/x?y=1"):
        for call in every_api(g, url):
            with pytest.raises(SSRFViolation, match="names the local machine") as info:
                call()
            assert info.value.reason == "localhost"


def test_the_reported_defect_localhost_through_the_app_is_refused() -> None:
    with pytest.raises(SSRFViolation) as info:
        Flasgo().validate_outbound_url("http://localhost/admin")
    assert info.value.reason == "localhost"
    assert str(info.value) == (
        "Host 'localhost' names the local machine (localhost, RFC 6761), which outbound "
        "requests may not reach"
    )


def test_loopback_names_are_refused_whatever_else_is_allowed() -> None:
    g = SSRFGuard(
        SSRFConfig(
            allowed_hosts=frozenset({"*"}),
            allow_private_networks=True,
            allow_unresolvable_hosts=True,
            allowed_networks=frozenset({"127.0.0.0/8", "::1/128"}),
        ),
        resolver=explode,
    )
    for url in ("http://localhost:8080/", "http://svc.localhost/"):
        with pytest.raises(SSRFViolation) as info:
            g.resolve_url(url)
        assert info.value.reason == "localhost"
    # The exemption applies to the address, written as an address.
    assert g.resolve_url("http://127.0.0.1:8080/").address == "127.0.0.1"


@pytest.mark.parametrize(
    "url",
    [
        "http://%6cocalhost/",
        "http://localhost%2e/",
        "http://localhost../",
        "http://.localhost/",
        "http://localhost%00/",
        "http://xn--localhost-/",
    ],
)
def test_encoded_or_malformed_forms_of_localhost_are_not_valid_hosts(url: str) -> None:
    refused(url, "host")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://localhost:80@evil.example/", "userinfo"),
        ("http://evil.example@localhost/", "userinfo"),
        ("http://localhost\\@evil.example/", "syntax"),
        ("http://evil.example#@localhost/", "syntax"),
        ("http://[::1]/", "address"),
        ("http://[::1]:80@evil.example/", "userinfo"),
        ("http://0x7f.1/", "address"),
        ("http://2130706433/", "address"),
        ("http://017700000001/", "address"),
        ("http://[::ffff:127.0.0.1]/", "address"),
        ("http://[::ffff:7f00:1]/", "address"),
        ("http://0/", "address"),
    ],
)
def test_hostile_forms_get_the_same_verdict_from_every_api(url: str, reason: str) -> None:
    g = SSRFGuard(resolver=explode)
    for call in every_api(g, url):
        with pytest.raises(SSRFViolation) as info:
            call()
        assert info.value.reason == reason


def test_userinfo_tricks_are_read_like_urllib_when_userinfo_is_allowed() -> None:
    g = SSRFGuard(
        SSRFConfig(allow_userinfo=True), resolver=resolver_for({"evil.example": [PUBLIC]})
    )
    # Everything before the last "@" is user information: the host really is evil.example.
    assert g.resolve_url("http://localhost:80@evil.example/").hostname == "evil.example"
    for url in ("http://evil.example@localhost/", "http://evil.example:80@LOCALHOST.:80/"):
        with pytest.raises(SSRFViolation) as info:
            g.validate_url(url)
        assert info.value.reason == "localhost"


@pytest.mark.parametrize(
    "host",
    [
        "localhost.example",
        "mylocalhost",
        "localhost-api.example",
        "localhostx",
        "xn--bcher-kva.example",
    ],
)
def test_names_that_only_contain_localhost_are_judged_by_their_addresses(host: str) -> None:
    assert guard().validate_url(f"http://{host}/") == f"http://{host}/"
    assert guard({host: [PUBLIC]}).resolve_url(f"http://{host}/").address == PUBLIC
    with pytest.raises(SSRFViolation) as info:
        guard({host: ["127.0.0.1"]}).resolve_url(f"http://{host}/")
    assert info.value.reason == "address"


@pytest.mark.parametrize(
    "entry", ["localhost", "LOCALHOST.", ".localhost", "*.localhost", "a.localhost"]
)
def test_a_loopback_name_in_the_allowlist_is_a_configuration_error(entry: str) -> None:
    with pytest.raises(ConfigurationError, match=r"loopback name.*allowed_networks"):
        SSRFConfig(allowed_hosts=frozenset({entry}))


@given(
    st.lists(st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True), max_size=3),
    st.booleans(),
    st.booleans(),
)
def test_any_name_under_localhost_is_refused(labels: list[str], upper: bool, dot: bool) -> None:
    host = ".".join([*labels, "localhost"]) + ("." if dot else "")
    with pytest.raises(SSRFViolation) as info:
        SSRFGuard(resolver=explode).validate_url(f"http://{host.upper() if upper else host}/")
    assert info.value.reason == "localhost"


# -- resolution, pinning, O9 and O11 -------------------------------------------------------------


def test_resolution_pins_the_lowest_address_and_keeps_host_and_port() -> None:
    g = guard({"api.example.com": [PUBLIC_V6, "93.184.215.200", PUBLIC]})
    resolved = g.resolve_url("https://api.example.com:8443/v1/items?id=1#top")
    assert resolved == SSRFResolvedURL(
        original_url="https://api.example.com:8443/v1/items?id=1#top",
        url=f"https://{PUBLIC}:8443/v1/items?id=1#top",
        hostname="api.example.com",
        port=8443,
        address=PUBLIC,
        host_header="api.example.com:8443",
    )
    v6_only = guard({"six.example": [PUBLIC_V6]}).resolve_url("http://six.example/")
    assert v6_only.url == f"http://[{PUBLIC_V6}]/"
    assert v6_only.host_header == "six.example"
    assert v6_only.port == 80


def test_ipv6_literal_host_header_keeps_brackets() -> None:
    resolved = guard().resolve_url(f"https://[{PUBLIC_V6.upper()}]:443/")
    assert resolved.host_header == f"[{PUBLIC_V6}]"
    assert resolved.hostname == PUBLIC_V6


@pytest.mark.parametrize("bad", ["127.0.0.1", "10.0.0.1", "::1", "fe80::1%eth0", "::ffff:7f00:1"])
def test_every_resolved_address_must_pass(bad: str) -> None:
    g = guard({"mixed.example": [PUBLIC, bad, PUBLIC_V6]})
    with pytest.raises(SSRFViolation) as info:
        g.resolve_url("http://mixed.example/")
    assert info.value.reason == "address"
    assert bad not in str(info.value)
    assert PUBLIC not in str(info.value)


def test_nip_io_style_names_are_judged_by_what_they_resolve_to() -> None:
    g = guard({"169.254.169.254.nip.io": ["169.254.169.254"], "localtest.me": ["127.0.0.1"]})
    for url in ("http://169.254.169.254.nip.io/latest/meta-data/", "http://localtest.me/"):
        with pytest.raises(SSRFViolation) as info:
            g.resolve_url(url)
        assert info.value.reason == "address"


def test_dns_rebinding_cannot_change_the_pinned_address() -> None:
    answers = iter([[PUBLIC], ["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    resolved = SSRFGuard(resolver=rebinding).resolve_url("http://rebind.example/")
    assert resolved.url == f"http://{PUBLIC}/"
    assert resolved.address == PUBLIC


@pytest.mark.parametrize(
    ("answer", "reason"),
    [([], "unresolvable"), (["not-an-ip"], "address"), (["999.1.1.1"], "address")],
)
def test_empty_or_garbage_answers_are_refused(answer: list[str], reason: str) -> None:
    with pytest.raises(SSRFViolation) as info:
        guard({"odd.example": answer}).resolve_url("http://odd.example/")
    assert info.value.reason == reason


def test_unresolvable_hosts_are_refused_unless_allowed() -> None:
    with pytest.raises(SSRFViolation) as info:
        guard().resolve_url("http://missing.example/")
    assert info.value.reason == "unresolvable"
    resolved = guard(allow_unresolvable_hosts=True).resolve_url("http://Missing.example:81/x")
    assert resolved.address is None
    assert resolved.url == "http://missing.example:81/x"
    assert resolved.host_header == "missing.example:81"


def test_the_default_resolver_is_getaddrinfo(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append((host, port))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    assert SSRFGuard().resolve_url("https://api.example.com/").address == PUBLIC
    assert calls == [("api.example.com", 443)]


def test_blocking_resolution_is_refused_on_the_event_loop() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="aresolve_url"):
            SSRFGuard().resolve_url("https://api.example.com/")
        with pytest.raises(RuntimeError, match="aresolve_url"):
            Flasgo().resolve_outbound_url("https://api.example.com/")
        # Literals need no DNS and injected resolvers do not block on it.
        assert SSRFGuard().resolve_url(f"http://{PUBLIC}/").address == PUBLIC
        assert guard({"a.example": [PUBLIC]}).resolve_url("http://a.example/").address == PUBLIC

    asyncio.run(main())


def test_validate_url_never_resolves() -> None:
    def explode(host: str, port: int) -> list[str]:
        raise AssertionError("validate_url must not resolve")

    assert SSRFGuard(resolver=explode).validate_url("https://api.example.com/x")


def test_literals_are_not_sent_to_the_resolver() -> None:
    def explode(host: str, port: int) -> list[str]:
        raise AssertionError("literals must not be resolved")

    assert SSRFGuard(resolver=explode).resolve_url(f"http://{PUBLIC}/").address == PUBLIC


def test_disabled_guard_passes_everything_through() -> None:
    g = guard(enabled=False)
    assert g.validate_url("http://127.0.0.1\\@x/") == "http://127.0.0.1\\@x/"
    resolved = g.resolve_url("http://10.0.0.1:8080/")
    assert (resolved.url, resolved.hostname, resolved.port, resolved.address) == (
        "http://10.0.0.1:8080/",
        "10.0.0.1",
        8080,
        None,
    )
    assert g.resolve_url("http://[oops/").hostname == ""
    assert asyncio.run(g.aresolve_url("https://x.example/")).port == 443


# -- async resolution ----------------------------------------------------------------------------


def test_async_resolution_matches_sync() -> None:
    g = guard({"api.example.com": [PUBLIC]})
    assert asyncio.run(g.aresolve_url("https://api.example.com/")) == g.resolve_url(
        "https://api.example.com/"
    )
    assert asyncio.run(g.aresolve_url(f"http://{PUBLIC}/")).address == PUBLIC
    with pytest.raises(SSRFViolation):
        asyncio.run(guard({"in.example": ["10.0.0.1"]}).aresolve_url("http://in.example/"))
    with pytest.raises(SSRFViolation) as info:
        asyncio.run(g.aresolve_url("http://missing.example/"))
    assert info.value.reason == "unresolvable"


def test_async_default_resolver_is_the_loop_getaddrinfo(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> SSRFResolvedURL:
        async def fake(host: str, port: int, **kwargs: Any) -> list[Any]:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (PUBLIC_V6, port, 0, 0))]

        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake)
        return await SSRFGuard().aresolve_url("https://api.example.com/")

    assert asyncio.run(main()).address == PUBLIC_V6


def test_async_resolution_timeout_always_raises() -> None:
    release = threading.Event()

    def slow(host: str, port: int) -> list[str]:
        release.wait(5)
        return [PUBLIC]

    g = guard(resolution_timeout_seconds=0.05, allow_unresolvable_hosts=True)
    g = SSRFGuard(g.config, resolver=slow)
    try:
        with pytest.raises(SSRFViolation) as info:
            asyncio.run(g.aresolve_url("http://slow.example/"))
    finally:
        release.set()
    assert info.value.reason == "timeout"


@pytest.mark.parametrize(
    "answer",
    [
        [PUBLIC, "127.0.0.1"],
        ["127.0.0.1", PUBLIC],
        [PUBLIC, PUBLIC_V6, "::ffff:a9fe:a9fe"],
        [PUBLIC_V6, "10.0.0.1", PUBLIC],
    ],
)
def test_one_bad_address_among_good_ones_refuses_through_every_resolving_api(
    answer: list[str],
) -> None:
    g = guard({"mixed.example": answer})
    for call in resolving_apis(g, "http://mixed.example/"):
        with pytest.raises(SSRFViolation) as info:
            call()
        assert info.value.reason == "address"


def test_unresolvable_names_are_refused_through_every_resolving_api() -> None:
    def empty(host: str, port: int) -> list[str]:
        return []

    for g in (guard(), SSRFGuard(resolver=empty)):
        for call in resolving_apis(g, "http://missing.example/"):
            with pytest.raises(SSRFViolation, match="does not resolve") as info:
                call()
            assert info.value.reason == "unresolvable"


def test_async_resolution_runs_off_the_event_loop_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []

    def injected(host: str, port: int) -> list[str]:
        threads.append(threading.get_ident())
        return [PUBLIC]

    def system(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        threads.append(threading.get_ident())
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port))]

    monkeypatch.setattr(socket, "getaddrinfo", system)

    async def main() -> int:
        await SSRFGuard(resolver=injected).aresolve_url("http://a.example/")
        await SSRFGuard().aresolve_url("http://b.example/")
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert len(threads) == 2
    assert loop_thread not in threads


# -- messages ------------------------------------------------------------------------------------


def test_messages_never_show_resolved_addresses_and_are_bounded() -> None:
    g = guard({"svc.internal.example": ["10.1.2.3"]})
    with pytest.raises(SSRFViolation) as info:
        g.resolve_url("http://svc.internal.example/")
    assert "10.1.2.3" not in str(info.value)
    assert "svc.internal.example" in str(info.value)
    long_host = "a" * 60 + "." + "b" * 60 + ".example"
    with pytest.raises(SSRFViolation) as info:
        guard(allowed_hosts=frozenset({"x.example"})).validate_url(f"http://{long_host}/")
    assert len(str(info.value)) < 160


# -- properties and complexity -------------------------------------------------------------------

url_alphabet = st.sampled_from(
    [*"abcxyz019.-_:/?#@[]%\\ \t\n\x00", "://", "http", "https", "127.0.0.1", "0x7f", "é"]
)
url_like = st.lists(url_alphabet, max_size=40).map("".join)


@given(st.one_of(st.text(max_size=120), url_like, url_like.map(lambda s: "http://" + s)))
def test_any_text_is_refused_cleanly_or_parses_to_an_allowed_target(text: str) -> None:
    g = guard(allowed_hosts=frozenset({".example", "*"}), allow_userinfo=False)
    try:
        url = g.validate_url(text)
    except SSRFViolation:
        return
    parts = urlsplit(url)
    assert parts.scheme in {"http", "https"}
    assert parts.hostname
    assert "@" not in parts.netloc
    assert url.isascii()
    assert url.isprintable()
    assert " " not in url
    assert "\\" not in url
    assert g.validate_url(url) == url
    host = parts.hostname
    if host.replace(".", "").isdigit() or ":" in host:
        assert address_problem(ipaddress.ip_address(host), allow_private=False) is None


hosts_like = st.lists(
    st.one_of(
        st.sampled_from(["localhost", "LOCALHOST", "xn--", "xn--ocalhost-lj5d", "xn--zz", "ℓ"]),
        st.text(min_size=1, max_size=12),
        st.from_regex(r"xn--[a-z0-9-]{0,20}", fullmatch=True),
    ),
    max_size=5,
).map(".".join)
configs = st.builds(
    SSRFConfig,
    allowed_hosts=st.sampled_from([frozenset(), frozenset({"*"}), frozenset({".example"})]),
    allow_private_networks=st.booleans(),
    allow_userinfo=st.booleans(),
)


@given(
    st.one_of(
        st.text(max_size=200),
        url_like.map(lambda s: "http://" + s),
        hosts_like.map(lambda h: f"http://{h}/"),
        st.tuples(st.text(max_size=20), hosts_like).map(lambda t: f"https://{t[0]}@{t[1]}:1/"),
    ),
    configs,
)
def test_validate_url_returns_a_string_or_raises_a_violation_only(
    text: str, config: SSRFConfig
) -> None:
    outcome: object
    try:
        outcome = SSRFGuard(config, resolver=explode).validate_url(text)
    except SSRFViolation as error:  # a ValueError, with one of the documented reasons
        outcome = error
    if isinstance(outcome, SSRFViolation):
        assert outcome.reason in get_args(ViolationReason)
    else:
        assert isinstance(outcome, str)


@given(hosts_like)
def test_is_loopback_name_answers_a_bool_for_any_text(host: str) -> None:
    assert isinstance(is_loopback_name(host), bool)
    assert is_loopback_name(host.lower().removesuffix(".") + ".localhost") is True


@given(url_like.map(lambda s: "https://api.example/" + s))
def test_validated_urls_keep_their_host(text: str) -> None:
    try:
        url = guard(allowed_hosts=frozenset({"api.example"})).validate_url(text)
    except SSRFViolation:
        return
    assert urlsplit(url).hostname == "api.example"


def _linear(build: Callable[[int], str], **options: Any) -> float:
    g = guard(**options)

    def run(n: int) -> Callable[[], object]:
        url = build(n)

        def call() -> object:
            try:
                return g.validate_url(url)
            except SSRFViolation:
                return None

        return call

    n = 100_000
    return linear_ratio(run(n), run(2 * n))


@pytest.mark.parametrize(
    ("build", "options"),
    [
        (lambda n: "https://example.com/" + "é/%41@" * n, {}),
        (lambda n: "https://example.com/?" + "a=b&" * n, {}),
        (lambda n: "https://" + "u:" * n + "@example.com/", {"allow_userinfo": True}),
        (lambda n: "https://" + "a." * n + "example.com/", {}),
        (lambda n: "https://" + "1." * n + "1/", {}),
        (lambda n: "https://[" + ":" * n + "]/", {}),
        (lambda n: "https://example.com:" + "8" * n + "/", {}),
        (lambda n: "https://" + "é" * n + ".com/", {}),
        (lambda n: "http://" + "@" * n, {}),
    ],
)
def test_validate_url_is_linear(build: Callable[[int], str], options: dict[str, Any]) -> None:
    assert _linear(build, **options) <= 2.5


# -- app integration -----------------------------------------------------------------------------


def test_readme_example_validates_without_dns() -> None:
    app = Flasgo(
        settings={"SSRF_ALLOWED_SCHEMES": {"https"}, "SSRF_ALLOWED_HOSTS": {"api.example.com"}}
    )
    assert app.validate_outbound_url("https://api.example.com/data") == (
        "https://api.example.com/data"
    )
    with pytest.raises(ValueError, match="allowlist"):
        app.validate_outbound_url("https://metadata.google.internal/")
    with pytest.raises(SSRFViolation):
        app.validate_outbound_url("http://api.example.com/data")


def test_app_guard_is_cached_and_follows_settings_changes() -> None:
    app = Flasgo()
    first = app.ssrf
    assert app.ssrf is first
    assert first.config == SSRFConfig()
    app.settings.SSRF_ALLOW_PRIVATE_NETWORKS = True
    assert app.ssrf is not first
    assert app.validate_outbound_url("http://10.0.0.1/") == "http://10.0.0.1/"


def test_app_resolve_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        address = {"good.example": PUBLIC, "bad.example": "169.254.169.254"}[host]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    app = Flasgo()
    assert app.resolve_outbound_url("http://good.example/").address == PUBLIC
    with pytest.raises(SSRFViolation):
        app.resolve_outbound_url("http://bad.example/")

    async def main() -> SSRFResolvedURL:
        async def afake(host: str, port: int, **kwargs: Any) -> list[Any]:
            return fake(host, port)

        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", afake)
        return await app.aresolve_outbound_url("https://good.example/")

    assert asyncio.run(main()).url == f"https://{PUBLIC}/"


def test_app_outbound_client_uses_the_app_guard() -> None:
    app = Flasgo()
    client = app.outbound_client(timeout=3.0, max_redirects=0, max_response_bytes=10)
    assert isinstance(client, SafeHTTPClient)
    assert client.guard is app.ssrf
    assert (client.timeout, client.max_redirects, client.max_response_bytes) == (3.0, 0, 10)
