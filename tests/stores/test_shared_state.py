"""One switch for several processes: ``REDIS_URL`` needs a ``SECRET_KEY``, several workers
without it are warned about, ``REDIS_TIMEOUT_SECONDS`` reaches every Redis client, and an
unreachable store is a logged 503 with ``Retry-After`` that recovers by itself."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from flasgo import Flasgo, session
from flasgo.cache import Cache
from flasgo.exceptions import ConfigurationError
from flasgo.ratelimit import RedisRateLimiter
from flasgo.security.checks import deploy_problems, warn_process_local_state
from flasgo.security.throttle import THROTTLED, SecurityFailureThrottle
from flasgo.sessions import ServerSideSessions
from flasgo.settings import Settings
from flasgo.stores.redis import RedisStore
from flasgo.tasks.redis import RedisTaskBackend
from flasgo.tasks.runtime import task_backend
from tests.conftest import TEST_SECRET_KEY
from tests.redis_server import RedisServer, start_redis_server


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = start_redis_server()
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGCONT)
        server.stop()


def test_redis_url_without_a_secret_key_refuses_to_start() -> None:
    app = Flasgo({"REDIS_URL": "redis://127.0.0.1:6379/0"})
    with pytest.raises(ConfigurationError, match="the processes sharing REDIS_URL"):
        app.freeze()


def test_several_workers_without_redis_are_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    memory = Flasgo({"SECRET_KEY": TEST_SECRET_KEY})
    shared = Flasgo({"SECRET_KEY": TEST_SECRET_KEY, "REDIS_URL": "redis://127.0.0.1:6379/0"})
    with caplog.at_level(logging.WARNING, logger="flasgo.security"):
        warn_process_local_state(memory, 1)
        warn_process_local_state(shared, 4)
        assert caplog.messages == []
        warn_process_local_state(memory, 4)
    assert caplog.messages == [
        (
            "4 workers without REDIS_URL: rate limits, the security-failure throttle and the "
            "cache are kept per worker, so every limit is multiplied by the worker count. Set "
            "FLASGO_REDIS_URL to share them."
        )
    ]
    codes = [p.code for p in deploy_problems(Settings(WORKERS=3, SECRET_KEY=TEST_SECRET_KEY))]
    assert "FG018" in codes
    shared_settings = Settings(WORKERS=3, SECRET_KEY=TEST_SECRET_KEY, REDIS_URL="redis://h/0")
    assert "FG018" not in [p.code for p in deploy_problems(shared_settings)]


def test_the_redis_timeout_reaches_every_client(make_app: Callable[..., Flasgo]) -> None:
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", REDIS_TIMEOUT_SECONDS=0.25)

    @app.get("/limited")
    @app.ratelimit(5)
    def limited() -> str:
        return "ok"

    app.freeze()
    assert isinstance(app.sessions, ServerSideSessions)
    assert app.sessions.store.timeout == 0.25  # type: ignore[attr-defined]
    assert isinstance(app.rate_limiter, RedisRateLimiter)
    assert app.rate_limiter.store.timeout == 0.25
    assert isinstance(app.cache, Cache)
    assert app.cache.l2 is not None
    assert app.cache.l2.timeout == 0.25
    backend = task_backend(app.settings)
    assert isinstance(backend, RedisTaskBackend)
    assert backend.timeout == 5.0  # a floor: one claim may move many due tasks


def test_an_unreachable_store_is_a_logged_503_with_retry_after_and_recovers(
    make_app: Callable[..., Flasgo],
    private_redis: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(REDIS_URL=private_redis.url, REDIS_TIMEOUT_SECONDS=0.3, CSRF_ENABLED=False)

    @app.post("/login")
    def sign_in() -> str:
        session["user"] = "ada"
        return "in"

    @app.get("/me")
    def me() -> str:
        return str(session.get("user"))

    with app.test_client(base_url="https://localhost") as client:
        assert client.post("/login").text == "in"
        private_redis.process.send_signal(signal.SIGSTOP)  # up, but answering nothing
        with caplog.at_level(logging.ERROR, logger="flasgo.stores"):
            down = client.get("/me")
        assert down.status_code == 503
        assert down.headers["retry-after"] == "5"
        assert "Traceback" not in down.text
        assert caplog.messages[0].startswith("store-unavailable namespace=flasgo Redis GET")
        private_redis.process.send_signal(signal.SIGCONT)
        assert client.get("/me").text == "ada"


def throttled_app(make_app: Callable[..., Flasgo], redis_url: str) -> Flasgo:
    app = make_app(REDIS_URL=redis_url, SECURITY_FAILURE_RATE_LIMIT=3)

    @app.get("/")
    def index() -> str:
        return "ok"

    return app


def test_a_client_blocked_on_one_worker_is_blocked_on_every_worker(
    make_app: Callable[..., Flasgo], redis_url: str, security_events: list[str]
) -> None:
    # Two apps on one Redis are two workers; this client fails only on the first.
    address = (f"198.51.100.{uuid.uuid4().int % 250 + 1}", 40000)
    first, second = throttled_app(make_app, redis_url), throttled_app(make_app, redis_url)
    with first.test_client(client=address) as one, second.test_client(client=address) as two:
        assert two.get("/").status_code == 200
        statuses = [one.get("/", headers={"host": "evil.example"}).status_code for _ in range(4)]
        assert statuses == [400, 400, 400, 429]
        deadline = time.monotonic() + 20
        refused = two.get("/")
        while refused.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)  # the second worker merges shared blocks every second
            refused = two.get("/")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
    assert security_events[-1] == THROTTLED


def test_shared_blocks_that_are_not_ours_are_ignored(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url, namespace=f"test-{uuid.uuid4().hex}")
    throttle = SecurityFailureThrottle(3, 60, shared_store=store)

    async def main() -> None:
        try:
            for junk in (b"not json", b"[1, 2]", b'{"203.0.113.1": "soon", "203.0.113.2": true}'):
                await store.set("security-failure-blocks", junk)
                await throttle.sync()
                assert throttle.blocked == {}
            await store.set("security-failure-blocks", b'{"203.0.113.3": 1e20}')
            await throttle.sync()
            assert list(throttle.blocked) == ["203.0.113.3"]
        finally:
            await store.close()

    asyncio.run(main())


def test_enqueueing_while_the_task_store_is_down_is_a_503(
    make_app: Callable[..., Flasgo], private_redis: RedisServer
) -> None:
    app = make_app(REDIS_URL=private_redis.url, CSRF_ENABLED=False)

    @app.task(name="noop")
    def noop() -> None: ...

    @app.post("/jobs")
    async def start() -> str:
        return (await noop.delay()).id

    with app.test_client(base_url="https://localhost") as client:
        assert client.post("/jobs").status_code == 200
        private_redis.stop()
        down = client.post("/jobs")
        assert down.status_code == 503
        assert down.headers["retry-after"] == "5"
