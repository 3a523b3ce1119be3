"""Route lookup flatness: Flasgo apps with 10, 100 and 1000 parametrised routes, last one hit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from benchmarks.asgi import Lifespan
from benchmarks.endpoints import VAR_IDS, Endpoint, Probe
from benchmarks.inprocess import Cell, Timing, check, measure, run_on_uvloop

SIZES = (10, 100, 1000)


def last_route_endpoints(routes: int) -> tuple[Endpoint, Endpoint]:
    """Return the constant-id and the varying-id endpoint of the last of `routes` routes."""
    last = routes - 1
    path = f"/r{last}/items"
    constant = Endpoint("const", "GET", (Probe(f"{path}/7", "", {"route": last, "item_id": 7}),))
    varying = Endpoint(
        "var",
        "GET",
        tuple(Probe(f"{path}/{i}", "", {"route": last, "item_id": i}) for i in range(VAR_IDS)),
    )
    return constant, varying


async def _measure_size(routes: int, timing: Timing) -> dict[str, Cell]:
    from benchmarks.apps.flasgo import build_app

    app: Any = build_app(routes=routes)
    lifespan = Lifespan(app)
    await lifespan.startup()
    row: dict[str, Cell] = {}
    try:
        for endpoint in last_route_endpoints(routes):
            problem = await check(app, endpoint, lifespan.state)
            row[endpoint.name] = (
                f"FAIL {problem}"
                if problem
                else await measure(app, endpoint, lifespan.state, timing)
            )
    finally:
        await lifespan.shutdown()
    return row


def run_route_scaling(
    sizes: Iterable[int] = SIZES, timing: Timing | None = None
) -> dict[int, dict[str, Cell]]:
    """Return µs per request for the last route, constant and varying id, per table size."""
    timing = timing or Timing()
    result: dict[int, dict[str, Cell]] = {}
    for routes in sizes:
        try:
            result[routes] = run_on_uvloop(lambda routes=routes: _measure_size(routes, timing))
        except Exception as exc:
            result[routes] = {"const": f"{type(exc).__name__}: {exc}", "var": "n/a"}
        print(f"  flasgo routes={routes:<5} {result[routes]}", flush=True)
    return result
