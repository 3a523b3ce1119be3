"""Durable tasks and the cache: tasks/s (enqueue, then run by one in-process worker) on
SQLite and on Redis, and the cost of a cache hit beside a plain dict.

``python -m benchmarks.tasks_cache [--tasks N] [--redis-url URL]``; without a URL the Redis
rows are skipped. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from flasgo.cache import Cache
from flasgo.tasks import RedisTaskBackend, SQLiteTaskBackend, TaskBackend, TaskQueue, Worker


async def _tasks_per_second(backend: TaskBackend, count: int) -> tuple[float, float]:
    queue = TaskQueue(backend)
    task = queue.register(lambda n: n, name="bench.echo")
    await queue.open()
    start = time.perf_counter()
    for number in range(count):
        await task.delay(number)
    enqueued = time.perf_counter() - start
    worker = Worker(queue, queues={"default": 8}, poll=0.001)
    running = asyncio.create_task(worker.run())
    start = time.perf_counter()
    while worker.processed < count:
        await asyncio.sleep(0.005)
    ran = time.perf_counter() - start
    worker.stop()
    await running
    await queue.close()
    return count / enqueued, count / ran


async def _cache_hit_us(rounds: int) -> tuple[float, float]:
    cache = Cache()
    await cache.set("key", {"user": 1, "name": "Ada"})
    plain = {"key": {"user": 1, "name": "Ada"}}
    start = time.perf_counter()
    for _ in range(rounds):
        await cache.get("key")
    hit = (time.perf_counter() - start) / rounds * 1e6

    async def dict_get() -> object:
        return plain.get("key")

    start = time.perf_counter()
    for _ in range(rounds):
        await dict_get()
    baseline = (time.perf_counter() - start) / rounds * 1e6
    return hit, baseline


def main() -> None:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--redis-url", default=None)
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        sqlite = SQLiteTaskBackend(Path(folder) / "bench.sqlite3")
        rows.append(
            (
                "SQLite (WAL, synchronous=FULL)",
                asyncio.run(_tasks_per_second(sqlite, options.tasks)),
            )
        )
    if options.redis_url:
        redis = RedisTaskBackend.from_url(options.redis_url, namespace=f"bench:{time.time_ns()}")
        rows.append(("Redis Streams", asyncio.run(_tasks_per_second(redis, options.tasks))))
    print("| store | enqueue/s | run/s (8 at once) |")
    print("| --- | ---: | ---: |")
    for name, (enqueue, run) in rows:
        print(f"| {name} | {enqueue:,.0f} | {run:,.0f} |")
    hit, baseline = asyncio.run(_cache_hit_us(200_000))
    print()
    print(f"cache hit (L1, JSON decode): {hit:.2f} µs; awaited dict.get: {baseline:.2f} µs")


if __name__ == "__main__":
    main()
