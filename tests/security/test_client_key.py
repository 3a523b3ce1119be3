"""IPv6 clients are counted by their network: rate limits, the throttle, CLIENT_IPV6_PREFIX."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from flasgo import ConfigurationError, SecurityFailureThrottle, rate_limit
from flasgo.clientkey import client_key

if TYPE_CHECKING:
    from tests.conftest import AppFactory, ClientFactory

# Six addresses of one /64, as one host with privacy addresses can use.
SAME_64 = [f"2001:db8:1:2:{n:x}::{n}" for n in range(1, 7)]


@pytest.mark.parametrize(
    ("address", "prefix", "key"),
    [
        ("203.0.113.9", 64, "203.0.113.9"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:3::1", 48, "2001:db8:1::/48"),
        ("2001:db8::1", 128, "2001:db8::1/128"),
        ("::ffff:203.0.113.9", 64, "203.0.113.9"),
        ("not:an:address", 64, "not:an:address"),
    ],
)
def test_client_key(address: str, prefix: int, key: str) -> None:
    assert client_key(address, prefix) == key


def test_one_64_shares_a_rate_limit(
    make_app: AppFactory, make_client: ClientFactory, security_events: list[str]
) -> None:
    app = make_app()

    @app.get("/limited")
    @rate_limit(3, per=60)
    def limited() -> str:
        return "ok"

    statuses = [
        make_client(app, client=(address, 40000)).get("/limited").status_code for address in SAME_64
    ]
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert security_events == ["rate-limit-exceeded"] * 3
    # Another /64 has its own allowance.
    assert make_client(app, client=("2001:db8:1:3::1", 40000)).get("/limited").status_code == 200


def test_the_prefix_is_configurable(make_app: AppFactory, make_client: ClientFactory) -> None:
    app = make_app(CLIENT_IPV6_PREFIX=128)

    @app.get("/limited")
    @rate_limit(1, per=60)
    def limited() -> str:
        return "ok"

    statuses = [
        make_client(app, client=(address, 40000)).get("/limited").status_code
        for address in SAME_64[:3]
    ]
    assert statuses == [200, 200, 200]


def test_one_64_shares_the_failure_throttle(
    make_app: AppFactory, make_client: ClientFactory, security_events: list[str]
) -> None:
    app = make_app(SECURITY_FAILURE_RATE_LIMIT=3)

    @app.get("/")
    def index() -> str:
        return "ok"

    statuses = [
        make_client(app, client=(address, 40000)).get("/", headers={"host": "evil.example"})
        for address in SAME_64[:4]
    ]
    assert [response.status_code for response in statuses] == [400, 400, 400, 429]
    assert security_events == ["host-check-failed"] * 3 + ["security-failure-rate-limit-exceeded"]
    # Screened at once: the next address of the same /64 is refused before routing.
    refused = make_client(app, client=(SAME_64[5], 40000)).get("/")
    assert refused.status_code == 429


@pytest.mark.parametrize("prefix", [0, 129, True, "64"])
def test_a_bad_prefix_is_refused(make_app: AppFactory, prefix: object) -> None:
    with pytest.raises(ConfigurationError, match="CLIENT_IPV6_PREFIX must be an integer from 1"):
        make_app(CLIENT_IPV6_PREFIX=prefix)
    with pytest.raises(ConfigurationError, match="ipv6_prefix must be 1 to 128"):
        SecurityFailureThrottle(ipv6_prefix=prefix)  # type: ignore[arg-type]
