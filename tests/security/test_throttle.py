"""The security-failure throttle through real requests: counting, 429, pre-check, Redis."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from flasgo import (
    ConfigurationError,
    Flasgo,
    RedisRateLimiter,
    SecurityFailureThrottle,
    TestClient,
)
from flasgo.stores.redis import RedisStore
from tests.asgi import call, http_scope
from tests.redis_server import start_redis_server

if TYPE_CHECKING:
    from tests.conftest import RefusalCheck

THROTTLED = "Too many failed security checks from this client. Wait a moment before retrying."
BAD_HOST = {"host": "evil.example"}
HOST_FAILED = "host-check-failed"
THROTTLED_EVENT = "security-failure-rate-limit-exceeded"


class Clock:
    """A fake clock: tests move time instead of sleeping."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def build(
    limit: int = 3, window: float = 60, **options: Any
) -> tuple[Flasgo, Clock, list[str], TestClient]:
    clock = Clock()
    calls: list[str] = []
    app = Flasgo(security_throttle=SecurityFailureThrottle(limit, window, clock=clock, **options))

    @app.get("/")
    def index() -> str:
        calls.append("index")
        return "ok"

    return app, clock, calls, app.test_client()


def security_events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.security["event"] for record in caplog.records if hasattr(record, "security")]


def test_host_failures_turn_into_429_at_the_limit(refusal: RefusalCheck) -> None:
    _, _, _, client = build(3, 60)
    bad = [refusal(client.get("/", headers=BAD_HOST)) for _ in range(3)]
    assert bad == [(400, HOST_FAILED)] * 3
    refused = client.get("/", headers=BAD_HOST)
    assert refusal(refused) == (429, THROTTLED_EVENT)
    assert refused.text == THROTTLED
    # Three failures at 40 s into a 60 s bucket: a slot frees at 60 + 20 s.
    assert refused.headers["retry-after"] == "40"
    assert refused.headers["x-content-type-options"] == "nosniff"


def test_the_failure_over_the_limit_is_answered_429_without_the_pre_check(
    refusal: RefusalCheck,
) -> None:
    app, _, _, _ = build(2, 60)
    # Two apps' worth of failures on one throttle: the pre-check only knows what it saw.
    throttle = app._throttle
    assert throttle is not None
    client = app.test_client()
    client.get("/", headers=BAD_HOST)
    client.get("/", headers=BAD_HOST)
    throttle.blocked.clear()  # as if another worker had counted the failures
    refused = client.get("/", headers=BAD_HOST)
    assert refusal(refused) == (429, HOST_FAILED, THROTTLED_EVENT)
    assert refused.text == THROTTLED
    assert int(refused.headers["retry-after"]) > 0


def test_a_throttled_client_is_refused_before_routing(caplog: pytest.LogCaptureFixture) -> None:
    _, _, calls, client = build(2, 60)
    client.get("/", headers=BAD_HOST)
    client.get("/", headers=BAD_HOST)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        for path in ("/", "/missing"):
            refused = client.get(path)  # a good Host and a real route: still refused
            assert (refused.status_code, refused.text) == (429, THROTTLED)
    assert calls == []
    assert security_events(caplog) == ["security-failure-rate-limit-exceeded"] * 2


def test_the_window_slides_and_retry_after_is_honest(refusal: RefusalCheck) -> None:
    _, clock, calls, client = build(2, 60)
    clock.advance(50)  # 1050: 30 s into the bucket [1020, 1080)
    client.get("/", headers=BAD_HOST)
    client.get("/", headers=BAD_HOST)
    wait = int(client.get("/").headers["retry-after"])
    assert wait == 60  # the next bucket (1080) plus half of it
    # Pre-check refusals are not counted: hammering does not move the deadline.
    for _ in range(10):
        assert client.get("/").headers["retry-after"] == str(wait)
    clock.advance(wait - 1)
    assert refusal(client.get("/")) == (429, THROTTLED_EVENT)
    clock.advance(1)
    assert client.get("/").status_code == 200
    assert calls == ["index"]
    # One slot, not two: the next failure goes over the limit again.
    assert refusal(client.get("/", headers=BAD_HOST)) == (400, HOST_FAILED)
    assert refusal(client.get("/", headers=BAD_HOST)) == (429, THROTTLED_EVENT)


def test_other_clients_are_not_affected(refusal: RefusalCheck) -> None:
    app, _, _, _ = build(1, 60)
    attacker = app.test_client(client=("203.0.113.9", 4000))
    bystander = app.test_client(client=("198.51.100.7", 4000))
    attacker.get("/", headers=BAD_HOST)
    assert refusal(attacker.get("/")) == (429, THROTTLED_EVENT)
    assert bystander.get("/").status_code == 200
    assert refusal(bystander.get("/", headers=BAD_HOST)) == (400, HOST_FAILED)


def test_clients_without_an_ip_are_never_throttled(refusal: RefusalCheck) -> None:
    app, _, _, _ = build(1, 60)
    scope = http_scope("/", headers=[])
    scope["headers"] = [(b"host", b"evil.example")]
    scope["client"] = None
    assert [refusal(call(app, dict(scope))) for _ in range(5)] == [(400, HOST_FAILED)] * 5
    # Also while the pre-check has other clients on record.
    with_ip = http_scope("/", headers=[(b"host", b"evil.example")])
    assert refusal(call(app, with_ip)) == (400, HOST_FAILED)
    assert refusal(call(app, http_scope("/"))) == (429, THROTTLED_EVENT)
    assert refusal(call(app, dict(scope))) == (400, HOST_FAILED)


def test_the_memory_is_bounded_and_fails_open(refusal: RefusalCheck) -> None:
    app, _, _, _ = build(1, 60, max_clients=2)
    clients = [app.test_client(client=(f"10.0.0.{n}", 1)) for n in range(3)]
    for client in clients:
        assert refusal(client.get("/", headers=BAD_HOST)) == (400, HOST_FAILED)
    throttle = app._throttle
    assert throttle is not None
    assert list(throttle.blocked) == ["10.0.0.1", "10.0.0.2"]
    # The oldest client was forgotten (not locked out for lack of room) ...
    assert clients[0].get("/").status_code == 200
    assert refusal(clients[0].get("/", headers=BAD_HOST)) == (400, HOST_FAILED)
    # ... and the recent ones are still refused.
    assert refusal(clients[2].get("/")) == (429, THROTTLED_EVENT)


def test_trusted_proxies_throttle_the_real_client(refusal: RefusalCheck) -> None:
    clock = Clock()
    app = Flasgo(
        {"TRUSTED_PROXIES": ["127.0.0.1/32"]},
        security_throttle=SecurityFailureThrottle(1, 60, clock=clock),
    )

    @app.get("/")
    def index() -> str:
        return "ok"

    client = app.test_client()
    first = {"x-forwarded-for": "203.0.113.1"}
    second = {"x-forwarded-for": "203.0.113.2"}
    assert refusal(client.get("/", headers={**first, **BAD_HOST})) == (400, HOST_FAILED)
    assert refusal(client.get("/", headers=first)) == (429, THROTTLED_EVENT)
    assert client.get("/", headers=second).status_code == 200


def test_the_default_is_50_failures_per_60_seconds(refusal: RefusalCheck) -> None:
    app = Flasgo()
    client = app.test_client()
    outcomes = [refusal(client.get("/", headers=BAD_HOST)) for _ in range(51)]
    assert outcomes == [(400, HOST_FAILED)] * 50 + [(429, THROTTLED_EVENT)]
    throttle = app._throttle
    assert throttle is not None
    assert (throttle.limit, throttle.window) == (50, 60.0)


def test_zero_switches_the_throttle_off(refusal: RefusalCheck) -> None:
    app = Flasgo({"SECURITY_FAILURE_RATE_LIMIT": 0})
    client = app.test_client()
    outcomes = [refusal(client.get("/", headers=BAD_HOST)) for _ in range(60)]
    assert outcomes == [(400, HOST_FAILED)] * 60
    assert app._throttle is None


def test_settings_set_the_limit_and_window(refusal: RefusalCheck) -> None:
    app = Flasgo({"SECURITY_FAILURE_RATE_LIMIT": 2, "SECURITY_FAILURE_WINDOW_SECONDS": 30})
    client = app.test_client()
    outcomes = [refusal(client.get("/", headers=BAD_HOST)) for _ in range(3)]
    assert outcomes == [(400, HOST_FAILED), (400, HOST_FAILED), (429, THROTTLED_EVENT)]
    assert 0 < int(client.get("/").headers["retry-after"]) <= 60


def test_oversized_requests_are_limits_not_security_failures(refusal: RefusalCheck) -> None:
    _, _, _, client = build(1, 60)
    long_url = "/" + "a" * 10_000
    assert [refusal(client.get(long_url)) for _ in range(3)] == [(414, "url-too-long")] * 3
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"limit": 0}, "SECURITY_FAILURE_RATE_LIMIT to 0"),
        ({"window": 0}, "window"),
        ({"max_clients": 0}, "max_clients"),
    ],
)
def test_bad_values_are_refused(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SecurityFailureThrottle(**arguments)


# -- Redis ---------------------------------------------------------------------------------


@contextmanager
def redis_app(url: str, clock: Clock, namespace: str, **store: Any) -> Iterator[TestClient]:
    backend = RedisRateLimiter(RedisStore.from_url(url, namespace=namespace, **store), clock=clock)
    throttle = SecurityFailureThrottle(3, 60, backend=backend, clock=clock)
    app = Flasgo(security_throttle=throttle)

    @app.get("/")
    def index() -> str:
        return "ok"

    app.on_shutdown(throttle.close)
    with app.test_client() as client:
        yield client


def test_two_apps_on_one_redis_share_the_count(redis_url: str, refusal: RefusalCheck) -> None:
    clock, namespace = Clock(), f"test-{uuid.uuid4().hex}"
    with (
        redis_app(redis_url, clock, namespace) as first,
        redis_app(redis_url, clock, namespace) as second,
    ):
        assert refusal(first.get("/", headers=BAD_HOST)) == (400, HOST_FAILED)
        assert refusal(second.get("/", headers=BAD_HOST)) == (400, HOST_FAILED)
        assert refusal(first.get("/", headers=BAD_HOST)) == (400, HOST_FAILED)
        # The fourth failure anywhere is over the shared limit.
        refused = second.get("/", headers=BAD_HOST)
        assert (refused.status_code, refused.text) == (429, THROTTLED)
        # Four failures counted (the refused one too) 40 s into the bucket: 20 + 30 s.
        assert refused.headers["retry-after"] == "50"
        # Both now refuse the client at screening.
        assert refusal(first.get("/")) == (429, THROTTLED_EVENT)
        assert refusal(second.get("/")) == (429, THROTTLED_EVENT)
        clock.advance(49)
        assert refusal(second.get("/")) == (429, THROTTLED_EVENT)
        clock.advance(1)
        assert first.get("/").status_code == 200
        assert second.get("/").status_code == 200


def test_redis_url_makes_the_throttle_shared(redis_url: str) -> None:
    app = Flasgo({"REDIS_URL": redis_url, "SECRET_KEY": "k" * 40})
    with app.test_client(client=(f"192.0.2.{uuid.uuid4().int % 250}", 1)) as client:
        client.get("/", headers=BAD_HOST)
        throttle = app._throttle
        assert throttle is not None
        backend = throttle._backend
        assert isinstance(backend, RedisRateLimiter)
        assert backend.store.namespace == "flasgo.throttle"


def test_a_redis_outage_fails_open(caplog: pytest.LogCaptureFixture, refusal: RefusalCheck) -> None:
    server = start_redis_server()
    try:
        with redis_app(server.url, Clock(), "outage", timeout=1.0) as client:
            assert refusal(client.get("/", headers=BAD_HOST)) == (400, HOST_FAILED)
            server.stop()
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="flasgo.security"):
                outcomes = [refusal(client.get("/", headers=BAD_HOST)) for _ in range(5)]
            assert outcomes == [(400, HOST_FAILED, "shared-storage-unavailable")] * 5
            events = security_events(caplog)
            assert events == ["host-check-failed", "shared-storage-unavailable"] * 5
            assert client.get("/").status_code == 200
    finally:
        server.stop()


def test_csrf_failures_count_towards_the_throttle(refusal: RefusalCheck) -> None:
    from flasgo import Flasgo

    app = Flasgo({"SECURITY_FAILURE_RATE_LIMIT": 2})

    @app.post("/submit")
    def submit() -> str:
        return "done"

    client = app.test_client()
    outcomes = [refusal(client.post("/submit")) for _ in range(3)]
    csrf = (403, "csrf-check-failed")
    assert outcomes == [csrf, csrf, (429, THROTTLED_EVENT)]
