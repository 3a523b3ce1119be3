"""cProfile an app in-process: function calls per request and where the time goes.

Calls are counted per request over a loop of requests; the loop's own calls (the scope copy,
building `receive`) are left out, while the app's calls into `receive` and `send` stay in.
"""

from __future__ import annotations

import cProfile
import pstats
from dataclasses import dataclass
from typing import Any

from benchmarks import asgi, inprocess
from benchmarks.asgi import ASGIApp, Headers, build_scope
from benchmarks.endpoints import Endpoint

_HARNESS_FILES = {asgi.__file__, inprocess.__file__}
_HARNESS_FUNCS = {"timed_loop", "receiver", "_profiled_loop"}


@dataclass(frozen=True, slots=True)
class Hotspot:
    """One function's share of a profiled endpoint."""

    function: str
    calls: float
    """Calls per request."""
    own_us: float
    """Time spent in the function itself (not its callees), µs per request under the profiler."""
    share: float
    """Fraction of all own time."""


@dataclass(frozen=True, slots=True)
class CallProfile:
    """Calls per request of one endpoint: all profiled calls, Python-level only, top functions."""

    calls: float
    python_calls: float
    hotspots: tuple[Hotspot, ...]


def _label(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    parts = filename.replace("\\", "/").split("/")
    for anchor in ("site-packages", "src", "benchmarks"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + 1 :]
            break
    return f"{'/'.join(parts[-3:])}:{line}({name})"


def _is_harness(func: tuple[str, int, str]) -> bool:
    return func[0] in _HARNESS_FILES and func[2] in _HARNESS_FUNCS


async def _profiled_loop(
    app: ASGIApp,
    endpoint: Endpoint,
    state: dict[str, Any],
    n: int,
    profiler: cProfile.Profile,
    unsafe_headers: Headers | None,
) -> None:
    scopes = [build_scope(endpoint, probe, unsafe_headers) for probe in endpoint.probes]
    await inprocess.timed_loop(app, scopes, endpoint.body, state, n)  # warm caches
    profiler.enable()
    await inprocess.timed_loop(app, scopes, endpoint.body, state, n)
    profiler.disable()


def _app_calls(func: tuple[str, int, str], row: tuple[Any, ...]) -> int:
    calls: int = row[1]
    callers: dict[tuple[str, int, str], tuple[Any, ...]] = row[4]
    if func[0] == "~":  # a builtin: drop the calls the harness loop itself made
        calls -= sum(counts[0] for caller, counts in callers.items() if _is_harness(caller))
    return calls


async def profile_endpoint(
    app: ASGIApp,
    endpoint: Endpoint,
    state: dict[str, Any],
    n: int = 4096,
    top: int = 12,
    unsafe_headers: Headers | None = None,
) -> CallProfile:
    """Profile `n` requests of `endpoint` and return calls per request and the top functions."""
    profiler = cProfile.Profile()
    await _profiled_loop(app, endpoint, state, n, profiler, unsafe_headers)
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    total = python = 0
    total_time = 0.0
    for func, row in stats.items():
        if _is_harness(func) or func[2].startswith("<method 'disable'"):
            continue
        calls = _app_calls(func, row)
        if calls <= 0:
            continue
        total += calls
        python += calls if func[0] != "~" else 0
        own = row[2] * calls / row[1]
        total_time += own
        rows.append((own, calls, func))
    rows.sort(reverse=True)
    hotspots = tuple(
        Hotspot(_label(func), calls / n, own / n * 1e6, own / total_time if total_time else 0.0)
        for own, calls, func in rows[:top]
    )
    return CallProfile(total / n, python / n, hotspots)
