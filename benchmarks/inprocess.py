"""In-process timing: each app called directly in a tight loop on one uvloop event loop."""

from __future__ import annotations

import asyncio
import gc
import importlib
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import uvloop

from benchmarks.asgi import ASGIApp, Lifespan, build_scope, call, receiver, sink, verify
from benchmarks.endpoints import ENDPOINTS, Endpoint

Cell = float | str
"""A measurement, or the reason there is none."""


@dataclass
class Timing:
    """How long each repeat runs and how many repeats make a median."""

    repeats: int = 5
    seconds: float = 0.3


@dataclass
class InProcessResult:
    """µs per request for every (framework, endpoint); failures hold their reason."""

    us: dict[str, dict[str, Cell]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def load_app(name: str) -> ASGIApp:
    """Import `benchmarks.apps.<name>` and return its `app`."""
    module = importlib.import_module(f"benchmarks.apps.{name}")
    app: ASGIApp = module.app
    return app


def run_on_uvloop(main: Callable[[], Any]) -> Any:
    """Run the coroutine function `main` on a fresh uvloop event loop."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


async def timed_loop(
    app: ASGIApp, scopes: list[dict[str, Any]], body: bytes, state: dict[str, Any], n: int
) -> float:
    """Serve `n` requests cycling through `scopes`; return the elapsed seconds."""
    mask = len(scopes) - 1
    make_receive = receiver
    send = sink
    clock = time.perf_counter
    start = clock()
    for i in range(n):
        scope = scopes[i & mask].copy()
        scope["state"] = state.copy()
        await app(scope, make_receive(body), send)
    return clock() - start


async def check(app: ASGIApp, endpoint: Endpoint, state: dict[str, Any]) -> str | None:
    """Return why `app` answers some probe of `endpoint` wrongly, or None."""
    for probe in endpoint.probes:
        messages = await call(app, build_scope(endpoint, probe), endpoint.body, state)
        problem = verify(endpoint, probe, messages)
        if problem is not None:
            return problem
    return None


async def measure(app: ASGIApp, endpoint: Endpoint, state: dict[str, Any], timing: Timing) -> float:
    """Return the median µs per request of `endpoint` over `timing.repeats` repeats."""
    scopes = [build_scope(endpoint, probe) for probe in endpoint.probes]
    n = 256
    while (elapsed := await timed_loop(app, scopes, endpoint.body, state, n)) < timing.seconds / 4:
        n *= 4  # also warms the app's caches up
    n = max(n, int(n * timing.seconds / elapsed))
    samples = []
    for _ in range(timing.repeats):
        gc.collect()
        samples.append(await timed_loop(app, scopes, endpoint.body, state, n) / n * 1e6)
    return statistics.median(samples)


async def _bench_app(
    name: str, endpoints: Iterable[Endpoint], timing: Timing, notes: list[str]
) -> dict[str, Cell]:
    row: dict[str, Cell] = {}
    try:
        app = load_app(name)
    except Exception as exc:
        notes.append(f"in-process {name}: import failed: {type(exc).__name__}: {exc}")
        return {endpoint.name: "n/a" for endpoint in endpoints}
    lifespan = Lifespan(app)
    await lifespan.startup()
    try:
        for endpoint in endpoints:
            try:
                problem = await check(app, endpoint, lifespan.state)
            except Exception as exc:
                problem = f"raised {type(exc).__name__}: {exc}"
            if problem is not None:
                notes.append(f"in-process {name}/{endpoint.name}: FAIL {problem}")
                row[endpoint.name] = "FAIL"
                continue
            row[endpoint.name] = await measure(app, endpoint, lifespan.state, timing)
            print(f"  {name:<13} {endpoint.name:<12} {row[endpoint.name]:8.2f} µs", flush=True)
    finally:
        await lifespan.shutdown()
    return row


def run_inprocess(
    frameworks: Iterable[str],
    endpoints: Iterable[Endpoint] = ENDPOINTS,
    timing: Timing | None = None,
) -> InProcessResult:
    """Check then time every endpoint of every framework in-process."""
    timing = timing or Timing()
    endpoints = list(endpoints)
    result = InProcessResult()
    for name in frameworks:
        result.us[name] = run_on_uvloop(
            lambda name=name: _bench_app(name, endpoints, timing, result.notes)
        )
    return result
