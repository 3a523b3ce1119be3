"""Rate limits through real requests: rules, the sliding window, headers, keys, backends."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flasgo import (
    Blueprint,
    ConfigurationError,
    Flasgo,
    RateLimiter,
    RateLimitExceeded,
    RateLimitRule,
    RedisRateLimiter,
    Request,
    TestClient,
    User,
    bearer_token_backend,
    rate_limit,
)
from flasgo.ratelimit import Quota, rules_of
from flasgo.stores.redis import RedisStore
from tests.asgi import call, http_scope
from tests.redis_server import start_redis_server

if TYPE_CHECKING:
    from tests.conftest import RefusalCheck

DENIED = {
    "error": "too_many_requests",
    "detail": "Too many requests from this client. Wait before retrying.",
}
RATE_HEADERS = ("limit", "remaining", "reset")


class Clock:
    """A fake clock: tests move time instead of sleeping."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limited_app(
    requests: int = 3, per: float = 10.0, **options: Any
) -> tuple[Flasgo, Clock, TestClient]:
    clock = Clock()
    app = Flasgo(rate_limiter=RateLimiter(clock=clock), **options)

    @app.get("/limited")
    @app.ratelimit(requests, per=per)
    def limited() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/free")
    def free() -> str:
        return "free"

    return app, clock, app.test_client()


def rate_headers(response: Any) -> dict[str, str]:
    return {name: response.headers[f"ratelimit-{name}"] for name in RATE_HEADERS}


# -- the boundary and the response ----------------------------------------------------------


def test_n_requests_pass_and_the_next_is_refused(refusal: RefusalCheck) -> None:
    _, _, client = limited_app(3, 10)
    for _ in range(3):
        assert client.get("/limited").status_code == 200
    refused = client.get("/limited")
    assert refusal(refused) == (429, "rate-limit-exceeded")
    assert refused.json() == DENIED
    assert refused.headers["content-type"] == "application/json"
    # Three requests at the start of a bucket: one fits again once that bucket, weighted by
    # how much of it the sliding window still covers, counts for 2 (10 + 10/3 s).
    assert refused.headers["retry-after"] == "14"
    assert rate_headers(refused) == {"limit": "3", "remaining": "0", "reset": "14"}
    for name in RATE_HEADERS:
        assert refused.headers[f"x-ratelimit-{name}"] == refused.headers[f"ratelimit-{name}"]
    # The security headers are on the refusal too.
    assert refused.headers["x-content-type-options"] == "nosniff"


def test_successful_responses_carry_the_headers() -> None:
    _, clock, client = limited_app(3, 10)
    clock.advance(4)  # 4 s into the current 10 s bucket
    seen = [rate_headers(client.get("/limited")) for _ in range(3)]
    assert seen == [
        {"limit": "3", "remaining": "2", "reset": "6"},
        {"limit": "3", "remaining": "1", "reset": "6"},
        # No room left: Reset says when a request fits again (as Retry-After will).
        {"limit": "3", "remaining": "0", "reset": "10"},
    ]
    for name in RATE_HEADERS:
        assert client.get("/free").headers.get(f"ratelimit-{name}") is None


def test_routes_without_rules_stay_on_the_fast_path() -> None:
    _, _, client = limited_app()
    free = client.get("/free")
    limited = client.get("/limited")
    assert not any(name.startswith("ratelimit") for name in free.headers)
    assert limited.headers["ratelimit-limit"]


def test_a_handlers_own_rate_limit_headers_win() -> None:
    app = Flasgo(rate_limiter=RateLimiter(clock=Clock()))

    @app.get("/own")
    @app.ratelimit(5, per=60)
    def own() -> Any:
        from flasgo import Response

        return Response("x", headers={"RateLimit-Limit": "custom"})

    response = app.test_client().get("/own")
    assert response.headers["ratelimit-limit"] == "custom"
    assert response.headers["ratelimit-remaining"] == "4"


def test_a_refusal_is_logged_as_a_security_event(security_events: list[str]) -> None:
    _, _, client = limited_app(1, 10)
    assert client.get("/limited").status_code == 200
    assert client.get("/limited").status_code == 429
    assert security_events == ["rate-limit-exceeded"]


def test_an_error_handler_can_reshape_the_429(refusal: RefusalCheck) -> None:
    app, _, client = limited_app(1, 10)

    @app.errorhandler(429)
    def slow_down(exc: RateLimitExceeded) -> tuple[str, int, dict[str, str]]:
        return "slow down", 429, {"retry-after": exc.headers["retry-after"]}

    client.get("/limited")
    refused = client.get("/limited")
    assert refusal(refused) == (429, "rate-limit-exceeded")
    assert (refused.text, refused.headers["retry-after"]) == ("slow down", "20")


# -- the sliding window --------------------------------------------------------------------


def test_the_window_slides_across_bucket_edges(refusal: RefusalCheck) -> None:
    _, clock, client = limited_app(4, 10)
    clock.advance(9)  # the end of the bucket [1000, 1010)
    assert [client.get("/limited").status_code for _ in range(4)] == [200] * 4
    clock.advance(1)  # a fixed window would reset here; the sliding one still counts 4
    refused = client.get("/limited")
    assert refusal(refused) == (429, "rate-limit-exceeded")
    # Previous bucket weight falls to 3/4 at 2.5 s in: one request fits.
    assert refused.headers["retry-after"] == "3"
    clock.advance(2.4)
    assert refusal(client.get("/limited")) == (429, "rate-limit-exceeded")
    clock.advance(0.1)
    assert client.get("/limited").status_code == 200
    assert refusal(client.get("/limited")) == (429, "rate-limit-exceeded")


def test_waiting_retry_after_is_enough_and_a_refusal_costs_nothing() -> None:
    _, clock, client = limited_app(2, 30)
    clock.advance(12)
    client.get("/limited")
    client.get("/limited")
    first = client.get("/limited")
    # Refusals are not counted, so hammering does not move the deadline.
    for _ in range(20):
        assert client.get("/limited").headers["retry-after"] == first.headers["retry-after"]
    clock.advance(int(first.headers["retry-after"]))
    assert client.get("/limited").status_code == 200


def test_two_windows_later_everything_is_forgotten() -> None:
    _, clock, client = limited_app(2, 10)
    for _ in range(3):
        client.get("/limited")
    clock.advance(20)
    assert rate_headers(client.get("/limited"))["remaining"] == "1"


# -- rules, scopes and keys ----------------------------------------------------------------


def test_either_decorator_order_and_the_module_level_decorator(refusal: RefusalCheck) -> None:
    app = Flasgo(rate_limiter=RateLimiter(clock=Clock()))

    @app.ratelimit(1, per=60)
    @app.get("/above")
    def above() -> str:
        return "above"

    @app.get("/below")
    @rate_limit(1, per=60)
    def below() -> str:
        return "below"

    client = app.test_client()
    for path in ("/above", "/below"):
        assert [refusal(client.get(path)) for _ in range(2)] == [
            (200,),
            (429, "rate-limit-exceeded"),
        ]
    assert rules_of(below) == (RateLimitRule(1, 60),)


def test_several_rules_count_together_and_the_tightest_is_reported(refusal: RefusalCheck) -> None:
    clock = Clock()
    app = Flasgo(rate_limiter=RateLimiter(clock=clock))

    @app.get("/burst")
    @app.ratelimit(3, per=1)
    @app.ratelimit(5, per=60)
    def burst() -> str:
        return "ok"

    client = app.test_client()
    assert rate_headers(client.get("/burst"))["limit"] == "3"  # 2 left of 3, 4 of 5
    client.get("/burst")
    client.get("/burst")
    assert client.get("/burst").headers["retry-after"] == "2"  # the per-second rule
    clock.advance(2)
    ok = client.get("/burst")
    assert rate_headers(ok) == {"limit": "5", "remaining": "1", "reset": "18"}
    client.get("/burst")
    refused = client.get("/burst")
    assert refusal(refused) == (429, "rate-limit-exceeded")
    assert refused.headers["ratelimit-limit"] == "5"
    # The refused requests were counted against neither rule.
    clock.advance(120)
    assert rate_headers(client.get("/burst"))["limit"] == "3"


def test_clients_are_counted_apart(refusal: RefusalCheck) -> None:
    app, _, _ = limited_app(1, 10)
    first = app.test_client(client=("10.0.0.1", 1000))
    second = app.test_client(client=("10.0.0.2", 1000))
    assert first.get("/limited").status_code == 200
    assert refusal(first.get("/limited")) == (429, "rate-limit-exceeded")
    assert second.get("/limited").status_code == 200


def test_routes_have_their_own_buckets_unless_they_share_a_scope(refusal: RefusalCheck) -> None:
    app = Flasgo(rate_limiter=RateLimiter(clock=Clock()))

    @app.get("/a")
    @app.ratelimit(1, per=60, scope="shared")
    def a() -> str:
        return "a"

    @app.get("/b")
    @app.ratelimit(1, per=60, scope="shared")
    def b() -> str:
        return "b"

    @app.get("/c")
    @app.ratelimit(1, per=60)
    def c() -> str:
        return "c"

    client = app.test_client()
    assert client.get("/a").status_code == 200
    assert refusal(client.get("/b")) == (429, "rate-limit-exceeded")
    assert client.get("/c").status_code == 200


def test_a_sync_key_function_runs_in_the_thread_pool(refusal: RefusalCheck) -> None:
    threads: list[str] = []

    def api_key(request: Request) -> str | None:
        threads.append(threading.current_thread().name)
        return request.headers.get("x-api-key")

    app = Flasgo(rate_limiter=RateLimiter(clock=Clock()))

    @app.get("/data")
    @app.ratelimit(1, per=60, key_func=api_key)
    def data() -> str:
        return "data"

    client = app.test_client()
    assert client.get("/data", headers={"x-api-key": "one"}).status_code == 200
    assert refusal(client.get("/data", headers={"x-api-key": "one"})) == (
        429,
        "rate-limit-exceeded",
    )
    assert client.get("/data", headers={"x-api-key": "two"}).status_code == 200
    # No key: the client IP is the key instead.
    assert client.get("/data").status_code == 200
    assert refusal(client.get("/data")) == (429, "rate-limit-exceeded")
    assert all(name.startswith("flasgo-sync") for name in threads)


def test_an_async_key_function_is_awaited(refusal: RefusalCheck) -> None:
    async def user(request: Request) -> str:
        await asyncio.sleep(0)
        return request.query_params.get("user", "")

    app = Flasgo(rate_limiter=RateLimiter(clock=Clock()))

    @app.get("/me")
    @app.ratelimit(1, per=60, key_func=user)
    def me() -> str:
        return "me"

    client = app.test_client()
    assert client.get("/me?user=ann").status_code == 200
    assert refusal(client.get("/me?user=ann")) == (429, "rate-limit-exceeded")
    assert client.get("/me?user=bob").status_code == 200


def test_a_chosen_key_never_shares_a_bucket_with_an_ip() -> None:
    app = Flasgo(rate_limiter=RateLimiter(clock=Clock()))

    @app.get("/k")
    @app.ratelimit(1, per=60, key_func=lambda request: request.headers.get("x-user"))
    def k() -> str:
        return "k"

    client = app.test_client()
    assert client.get("/k").status_code == 200  # counted under the IP 127.0.0.1
    assert client.get("/k", headers={"x-user": "127.0.0.1"}).status_code == 200


def test_blueprint_rules_apply_to_each_of_its_routes(refusal: RefusalCheck) -> None:
    app = Flasgo(rate_limiter=RateLimiter(clock=Clock()))
    api = Blueprint("api", url_prefix="/api", rate_limits=[RateLimitRule(2, 60)])
    inner = Blueprint("inner", url_prefix="/inner")

    @api.get("/one")
    def one() -> str:
        return "one"

    @api.get("/two")
    @api.ratelimit(1, per=60)
    def two() -> str:
        return "two"

    @inner.get("/three")
    def three() -> str:
        return "three"

    @app.get("/outside")
    def outside() -> str:
        return "outside"

    api.register_blueprint(inner)
    app.register_blueprint(api)
    client = app.test_client()
    limited = [(200,), (200,), (429, "rate-limit-exceeded")]
    assert [refusal(client.get("/api/one")) for _ in range(3)] == limited
    assert [refusal(client.get("/api/two")) for _ in range(2)] == limited[1:]
    assert [refusal(client.get("/api/inner/three")) for _ in range(3)] == limited
    assert [client.get("/outside").status_code for _ in range(3)] == [200] * 3


def test_head_requests_count_and_automatic_options_do_not(refusal: RefusalCheck) -> None:
    _, _, client = limited_app(2, 10)
    assert client.options("/limited").status_code == 204
    assert client.head("/limited").status_code == 200
    assert client.get("/limited").status_code == 200
    assert refusal(client.head("/limited")) == (429, "rate-limit-exceeded")


def test_clients_without_an_ip_are_not_limited(refusal: RefusalCheck) -> None:
    app, _, _ = limited_app(1, 10)
    scope = http_scope("/limited")
    scope["client"] = None
    assert [call(app, dict(scope)).status for _ in range(3)] == [200] * 3
    with_ip = http_scope("/limited")
    assert [refusal(call(app, dict(with_ip))) for _ in range(2)] == [
        (200,),
        (429, "rate-limit-exceeded"),
    ]


def test_a_key_function_still_limits_clients_without_an_ip(refusal: RefusalCheck) -> None:
    app = Flasgo(rate_limiter=RateLimiter(clock=Clock()))

    @app.get("/k")
    @app.ratelimit(1, per=60, key_func=lambda request: "tenant")
    def k() -> str:
        return "k"

    scope = http_scope("/k")
    scope["client"] = None
    assert [refusal(call(app, dict(scope))) for _ in range(2)] == [
        (200,),
        (429, "rate-limit-exceeded"),
    ]


# -- the memory backend ----------------------------------------------------------------------


def test_the_memory_backend_is_bounded_and_forgets_the_oldest_client(refusal: RefusalCheck) -> None:
    limiter = RateLimiter(max_keys=2, clock=Clock())
    app = Flasgo(rate_limiter=limiter)

    @app.get("/x")
    @app.ratelimit(1, per=60)
    def x() -> str:
        return "x"

    clients = [app.test_client(client=(f"10.0.0.{n}", 1)) for n in range(3)]
    assert [c.get("/x").status_code for c in clients] == [200, 200, 200]
    assert len(limiter) == 2
    # The first client was evicted: it starts afresh (fails open), nobody is locked out.
    assert clients[0].get("/x").status_code == 200
    assert refusal(clients[2].get("/x")) == (429, "rate-limit-exceeded")


def test_a_bucket_never_allows_more_than_the_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    quota = Quota("k", 5, 10)
    allowed = 0
    for _ in range(50):
        clock.advance(0.1)
        (usage,) = asyncio.run(limiter.hit([quota]))
        allowed += usage.allowed
    assert allowed == 5


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 20),
    window=st.sampled_from([1.0, 7.5, 60.0]),
    steps=st.lists(st.floats(0, 30, allow_nan=False), min_size=1, max_size=60),
)
def test_retry_after_is_exact(limit: int, window: float, steps: list[float]) -> None:
    """After a refusal, waiting `retry_after` is enough and a little less is not."""
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    quota = Quota("k", limit, window)

    async def run() -> None:
        for step in steps:
            clock.advance(step)
            (usage,) = await limiter.hit([quota])
            assert 0 <= usage.remaining <= limit - usage.allowed
            if usage.allowed:
                continue
            assert 0 < usage.retry_after <= 2 * window
            start = clock.now
            if usage.retry_after > 1e-3:
                clock.now = start + usage.retry_after - 1e-3
                (early,) = await limiter.hit([quota])
                assert not early.allowed
            clock.now = start + usage.retry_after + 1e-6
            (later,) = await limiter.hit([quota])
            assert later.allowed

    asyncio.run(run())


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((0, 60), "positive int number of requests"),
        ((True, 60), "positive int number of requests"),
        ((5, 0), "positive number of seconds"),
        ((5, float("inf")), "positive number of seconds"),
        ((5, "60"), "positive number of seconds"),
        ((5, 60, ""), "scope"),
        ((5, 60, None, "not callable"), "key_func"),
    ],
)
def test_bad_rules_are_refused(arguments: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RateLimitRule(*arguments)


def test_bad_memory_bounds_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="max_keys"):
        RateLimiter(max_keys=0)


def test_a_method_cannot_carry_rules() -> None:
    class Handlers:
        def method(self) -> str:
            return "x"

    with pytest.raises(TypeError, match="decorate the function itself"):
        rate_limit(1)(Handlers().method)


def test_websocket_handlers_cannot_have_rules() -> None:
    app = Flasgo()

    @app.websocket("/ws")
    @rate_limit(1)
    async def ws(websocket: Any) -> None:
        await websocket.close()

    with pytest.raises(ConfigurationError, match="WebSocket route '/ws'"):
        app.test_client().get("/")


def test_blueprint_rules_skip_its_websocket_routes() -> None:
    app = Flasgo(rate_limiter=RateLimiter(clock=Clock()))
    live = Blueprint("live", rate_limits=[RateLimitRule(1, 60)])

    @live.websocket("/ws")
    async def ws(websocket: Any) -> None:
        await websocket.close()

    app.register_blueprint(live)
    assert app.test_client().get("/").status_code == 404


def test_memory_is_the_default_backend(refusal: RefusalCheck) -> None:
    app = Flasgo()

    @app.get("/x")
    @app.ratelimit(1)
    def x() -> str:
        return "x"

    assert app.rate_limiter is None
    assert [refusal(app.test_client().get("/x")) for _ in range(2)] == [
        (200,),
        (429, "rate-limit-exceeded"),
    ]
    assert isinstance(app.rate_limiter, RateLimiter)


def test_no_backend_is_built_without_rules() -> None:
    app = Flasgo({"REDIS_URL": "redis://127.0.0.1:1/0", "SECRET_KEY": "k" * 24 + "x9Qm" * 8})
    app.test_client().get("/")
    assert app.rate_limiter is None


# -- Redis ---------------------------------------------------------------------------------


@contextmanager
def redis_limited(url: str, clock: Clock, namespace: str) -> Iterator[TestClient]:
    limiter = RedisRateLimiter(RedisStore.from_url(url, namespace=namespace), clock=clock)
    app = Flasgo(rate_limiter=limiter)

    @app.get("/limited")
    @app.ratelimit(3, per=10)
    def limited() -> str:
        return "ok"

    app.on_shutdown(limiter.close)
    with app.test_client() as client:
        yield client


def test_two_apps_on_one_redis_count_as_one(redis_url: str, refusal: RefusalCheck) -> None:
    clock, namespace = Clock(), f"test-{uuid.uuid4().hex}"
    with (
        redis_limited(redis_url, clock, namespace) as first,
        redis_limited(redis_url, clock, namespace) as second,
    ):
        assert first.get("/limited").status_code == 200
        assert second.get("/limited").status_code == 200
        assert rate_headers(first.get("/limited")) == {
            "limit": "3",
            "remaining": "0",
            "reset": "14",
        }
        refused = second.get("/limited")
        assert refusal(refused) == (429, "rate-limit-exceeded")
        assert refused.json() == DENIED
        assert refused.headers["retry-after"] == "14"
        clock.advance(9)  # the window slides in Redis too
        assert refusal(first.get("/limited")) == (429, "rate-limit-exceeded")
        clock.advance(6)  # 1015: the previous bucket weighs 1/2 -> 1.5 used
        assert second.get("/limited").status_code == 200
        assert refusal(first.get("/limited")) == (429, "rate-limit-exceeded")


def test_redis_keys_are_hashed_and_expire(redis_url: str) -> None:
    import redis

    clock, namespace = Clock(), f"test-{uuid.uuid4().hex}"
    with redis_limited(redis_url, clock, namespace) as client:
        client.get("/limited", headers={"x-forwarded-for": "1.2.3.4"})
    raw = redis.Redis.from_url(redis_url)
    try:
        keys = raw.keys(f"{namespace}:*")
        assert len(keys) == 1
        assert b"127.0.0.1" not in keys[0]
        assert 0 < raw.pttl(keys[0]) <= 20_000
    finally:
        raw.close()


def test_redis_url_makes_redis_the_default_backend(redis_url: str, refusal: RefusalCheck) -> None:
    app = Flasgo({"REDIS_URL": redis_url, "SECRET_KEY": "k" * 40})

    @app.get("/x")
    @app.ratelimit(1, per=60, scope=f"test-{uuid.uuid4().hex}")
    def x() -> str:
        return "x"

    with app.test_client() as client:
        assert [refusal(client.get("/x")) for _ in range(2)] == [
            (200,),
            (429, "rate-limit-exceeded"),
        ]
        assert isinstance(app.rate_limiter, RedisRateLimiter)
        assert app.rate_limiter.store.namespace == "flasgo.ratelimit"


def test_a_redis_outage_fails_open(security_events: list[str]) -> None:
    server = start_redis_server()
    try:
        limiter = RedisRateLimiter(
            RedisStore.from_url(server.url, timeout=1.0, namespace="outage"), clock=Clock()
        )
        app = Flasgo(rate_limiter=limiter)

        @app.get("/x")
        @app.ratelimit(1, per=60)
        def x() -> str:
            return "x"

        app.on_shutdown(limiter.close)
        with app.test_client() as client:
            assert client.get("/x").status_code == 200
            assert client.get("/x").status_code == 429
            server.stop()
            security_events.clear()
            statuses = [client.get("/x") for _ in range(3)]
            assert [response.status_code for response in statuses] == [200] * 3
            assert all("ratelimit-limit" not in r.headers for r in statuses)
            assert security_events == ["shared-storage-unavailable"] * 3
    finally:
        server.stop()


def test_requests_that_fail_authentication_are_counted(security_events: list[str]) -> None:
    app = Flasgo(rate_limiter=RateLimiter(clock=Clock()))
    app.register_auth_backend(
        "token",
        bearer_token_backend(
            lambda token: User(id="ann", is_authenticated=True) if token == "good" else None
        ),
    )

    @app.get("/account")
    @app.authorize(backend="token")
    @app.ratelimit(2, per=60)
    def account() -> str:
        return "account"

    client = app.test_client()
    bad = {"Authorization": "Bearer guess"}
    assert [client.get("/account", headers=bad).status_code for _ in range(2)] == [401, 401]
    # SECURITY: the third guess is refused by the limit: credentials cannot be tried forever.
    refused = client.get("/account", headers=bad)
    assert (refused.status_code, refused.json()) == (429, DENIED)
    assert client.get("/account", headers={"Authorization": "Bearer good"}).status_code == 429
    assert security_events == [
        "permission-denied",
        "permission-denied",
        "rate-limit-exceeded",
        "rate-limit-exceeded",
    ]


def test_a_key_function_rule_counts_after_authentication_and_sees_the_user() -> None:
    app = Flasgo(rate_limiter=RateLimiter(clock=Clock()))
    app.register_auth_backend(
        "token", bearer_token_backend(lambda token: User(id=token, is_authenticated=True))
    )

    @app.get("/me")
    @app.authorize(backend="token")
    @app.ratelimit(1, per=60, key_func=lambda request: request.user.id)
    @app.ratelimit(5, per=60)
    def me() -> str:
        return "me"

    client = app.test_client()
    assert client.get("/me", headers={"Authorization": "Bearer ann"}).status_code == 200
    second = client.get("/me", headers={"Authorization": "Bearer ann"})
    assert second.status_code == 429
    bob = client.get("/me", headers={"Authorization": "Bearer bob"})
    assert bob.status_code == 200
    # The tightest rule of both phases is reported: the per-user one, used up.
    assert rate_headers(bob)["remaining"] == "0"
    assert rate_headers(bob)["limit"] == "1"
