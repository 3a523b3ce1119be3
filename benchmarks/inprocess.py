"""In-process timing: each app called directly in a tight loop on one uvloop event loop."""

from __future__ import annotations

import asyncio
import gc
import importlib
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import uvloop

from benchmarks.asgi import (
    ASGIApp,
    Headers,
    Lifespan,
    build_scope,
    call,
    csrf_headers,
    receiver,
    sink,
    verify,
)
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
    """Return a fresh `app` from `benchmarks.apps.<name>` (re-executing an imported module).

    Fresh, because an app object must not go through lifespan startup twice (BlackSheep, for
    one, wraps its handlers again on a second start and then fails every request).
    """
    qualified = f"benchmarks.apps.{name}"
    module = sys.modules.get(qualified)
    module = importlib.reload(module) if module else importlib.import_module(qualified)
    app: ASGIApp = module.app
    return app


def run_on_uvloop(main: Callable[[], Any]) -> Any:
    """Run the coroutine function `main` on a fresh uvloop event loop."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


async def timed_loop(
    app: ASGIApp, scopes: list[dict[str, Any]], body: bytes, state: dict[str, Any], n: int
) -> float:
    """Serve `n` requests cycling through `scopes`; return the CPU seconds they took."""
    mask = len(scopes) - 1
    make_receive = receiver
    send = sink
    # NOTE: CPU time of this thread, not wall time: while other work on the machine has the
    # core, the clock stops, so load elsewhere barely moves the numbers (all apps are async
    # and run on this thread).
    clock = time.thread_time
    start = clock()
    for i in range(n):
        scope = scopes[i & mask].copy()
        scope["state"] = state.copy()
        await app(scope, make_receive(body), send)
    return clock() - start


async def check(
    app: ASGIApp, endpoint: Endpoint, state: dict[str, Any], unsafe_headers: Headers | None = None
) -> str | None:
    """Return why `app` answers some probe of `endpoint` wrongly, or None."""
    for probe in endpoint.probes:
        scope = build_scope(endpoint, probe, unsafe_headers)
        messages = await call(app, scope, endpoint.body, state)
        problem = verify(endpoint, probe, messages)
        if problem is not None:
            return problem
    return None


async def calibrate(
    app: ASGIApp, scopes: list[dict[str, Any]], body: bytes, state: dict[str, Any], seconds: float
) -> int:
    """Return how many requests take about `seconds` (the runs also warm the app's caches)."""
    n = 256
    while (elapsed := await timed_loop(app, scopes, body, state, n)) < seconds / 4:
        n *= 4
    return max(n, int(n * seconds / elapsed))


async def measure(app: ASGIApp, endpoint: Endpoint, state: dict[str, Any], timing: Timing) -> float:
    """Return the median µs per request of `endpoint` over `timing.repeats` repeats."""
    scopes = [build_scope(endpoint, probe) for probe in endpoint.probes]
    n = await calibrate(app, scopes, endpoint.body, state, timing.seconds)
    samples = []
    for _ in range(timing.repeats):
        gc.collect()
        samples.append(await timed_loop(app, scopes, endpoint.body, state, n) / n * 1e6)
    return statistics.median(samples)


@dataclass
class _Contender:
    name: str
    app: ASGIApp
    lifespan: Lifespan
    unsafe_headers: Headers


async def _start(names: Iterable[str], notes: list[str]) -> list[_Contender]:
    contenders = []
    for name in names:
        try:
            app = load_app(name)
            lifespan = Lifespan(app)
            await lifespan.startup()
            unsafe_headers = await csrf_headers(app, lifespan.state)
        except Exception as exc:
            notes.append(f"in-process {name}: could not start: {type(exc).__name__}: {exc}")
            continue
        contenders.append(_Contender(name, app, lifespan, unsafe_headers))
    return contenders


async def _ready(
    contenders: list[_Contender], endpoint: Endpoint, seconds: float, notes: list[str]
) -> dict[str, tuple[_Contender, list[dict[str, Any]], int]]:
    """Check each contender on `endpoint`; return the good ones, their scopes and counts."""
    ready = {}
    for contender in contenders:
        scopes = [build_scope(endpoint, p, contender.unsafe_headers) for p in endpoint.probes]
        try:
            problem = await check(
                contender.app, endpoint, contender.lifespan.state, contender.unsafe_headers
            )
        except Exception as exc:
            problem = f"raised {type(exc).__name__}: {exc}"
        if problem is not None:
            notes.append(f"in-process {contender.name}/{endpoint.name}: FAIL {problem}")
            continue
        state = contender.lifespan.state
        n = await calibrate(contender.app, scopes, endpoint.body, state, seconds)
        ready[contender.name] = (contender, scopes, n)
    return ready


async def _bench_all(
    names: list[str], endpoints: list[Endpoint], timing: Timing, notes: list[str]
) -> dict[str, dict[str, Cell]]:
    """Time every endpoint, the repeats of all frameworks interleaved.

    Interleaving spreads slow drift and other load on the machine over every framework alike,
    which keeps the ratios between them meaningful even when absolute numbers move.
    """
    table: dict[str, dict[str, Cell]] = {name: {} for name in names}
    contenders = await _start(names, notes)
    try:
        for endpoint in endpoints:
            ready = await _ready(contenders, endpoint, timing.seconds, notes)
            samples: dict[str, list[float]] = {name: [] for name in ready}
            for _ in range(timing.repeats):
                for name, (contender, scopes, n) in ready.items():
                    gc.collect()
                    state = contender.lifespan.state
                    elapsed = await timed_loop(contender.app, scopes, endpoint.body, state, n)
                    samples[name].append(elapsed / n * 1e6)
            for name in names:
                table[name][endpoint.name] = (
                    statistics.median(samples[name]) if name in samples else "FAIL"
                )
            print(
                f"  {endpoint.name:<12} "
                + " ".join(f"{name}={statistics.median(us):.2f}" for name, us in samples.items()),
                flush=True,
            )
    finally:
        for contender in contenders:
            await contender.lifespan.shutdown()
    for name in names:
        if name not in {contender.name for contender in contenders}:
            table[name] = {endpoint.name: "n/a" for endpoint in endpoints}
    return table


def run_inprocess(
    frameworks: Iterable[str],
    endpoints: Iterable[Endpoint] = ENDPOINTS,
    timing: Timing | None = None,
) -> InProcessResult:
    """Check then time every endpoint of every framework in-process."""
    timing = timing or Timing()
    result = InProcessResult()
    names, chosen = list(frameworks), list(endpoints)
    result.us = run_on_uvloop(lambda: _bench_all(names, chosen, timing, result.notes))
    return result
