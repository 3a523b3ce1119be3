"""Metrics and access-log overhead in-process: `python -m benchmarks.observability`.

Calls one app's ASGI entry directly (no server) for a plain JSON GET and prints µs per request
with observation off, with Prometheus metrics on, with the access log on (its logger at
WARNING, so lines are built but not written), and with both. The difference from "off" is
what the feature costs a request; "off" itself must match the app without the feature.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from typing import Any

from flasgo import Flasgo

TOKEN = "bench-metrics-token-" + "b" * 32
SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/items/7",
    "raw_path": b"/items/7",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"localhost"), (b"accept", b"application/json")],
    "client": ("127.0.0.1", 5000),
    "server": ("127.0.0.1", 8000),
}


def build(**settings: Any) -> Flasgo:
    app = Flasgo({"SECRET_KEY": "bench-secret-key-" + "s" * 32, **settings})

    @app.get("/items/<int:item_id>")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app.freeze()
    return app


async def per_request(app: Flasgo, count: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    started = time.perf_counter()
    for _ in range(count):
        await app(dict(SCOPE), receive, send)
    return (time.perf_counter() - started) / count * 1e6


def main() -> None:
    logging.getLogger("flasgo.access").setLevel(logging.WARNING)
    variants = {
        "off": build(),
        "metrics": build(METRICS_ENABLED=True, METRICS_BEARER_TOKEN=TOKEN),
        "access log": build(ACCESS_LOG="on"),
        "both": build(ACCESS_LOG="on", METRICS_ENABLED=True, METRICS_BEARER_TOKEN=TOKEN),
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(7):  # interleaved rounds, so drift hits every variant alike
        for name, app in variants.items():
            results[name].append(asyncio.run(per_request(app, 20_000)))
    base = statistics.median(results["off"])
    print("| variant | µs/request (median of 7) | overhead µs |")
    print("| --- | --- | --- |")
    for name, samples in results.items():
        value = statistics.median(samples)
        print(f"| {name} | {value:.2f} | {value - base:+.2f} |")


if __name__ == "__main__":
    main()
