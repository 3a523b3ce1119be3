"""``flasgo worker`` as a real process: it runs tasks, drains on SIGTERM, refuses a broken
store, and ``kill -9`` mid-task loses nothing (the trial count is a knob).

``TASKS_KILL_TRIALS`` (default 1) and ``TASKS_KILL_TASKS`` (default 200) size the
kill trials; the issue's proof is ``TASKS_KILL_TRIALS=20 TASKS_KILL_TASKS=1000``.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from flasgo.tasks import RedisTaskBackend, SQLiteTaskBackend, TaskQueue

TRIALS = int(os.environ.get("TASKS_KILL_TRIALS", "1"))
TASKS = int(os.environ.get("TASKS_KILL_TASKS", "200"))
CONCURRENCY = 4
WAIT = 120.0  # seconds before a test gives up on a worker (never asserted as a timing)
APP = str(Path(__file__).with_name("process_app.py"))


class Store:
    """A task store the test and the worker processes share: a SQLite file, or a Redis
    database of its own (emptied first)."""

    def __init__(self, tmp_path: Path, redis_url: str | None, slot: int) -> None:
        self.database = tmp_path / "tasks.sqlite3"
        self.redis_url = None if redis_url is None else f"{redis_url.rsplit('/', 1)[0]}/{slot}"
        if self.redis_url is not None:
            with redis.Redis.from_url(self.redis_url) as client:
                client.flushdb()

    def settings(self) -> dict[str, str]:
        if self.redis_url is None:
            return {"FLASGO_TASKS_DATABASE": str(self.database)}
        return {"FLASGO_REDIS_URL": self.redis_url, "FLASGO_TASKS_BACKEND": "redis"}

    def queue(self) -> TaskQueue:
        if self.redis_url is None:
            return TaskQueue(SQLiteTaskBackend(self.database))
        return TaskQueue(RedisTaskBackend.from_url(self.redis_url))

    def states(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = collections.defaultdict(list)
        if self.redis_url is None:
            with sqlite3.connect(self.database, timeout=30) as db:
                rows = db.execute("SELECT state, id FROM flasgo_tasks").fetchall()
            db.close()
            for state, task_id in rows:
                found[state].append(task_id)
            return found
        with redis.Redis.from_url(self.redis_url) as client:
            for key in client.scan_iter(match="flasgo:tasks:task:*", count=1000):
                state = client.hget(key, "state")
                assert isinstance(state, bytes)
                found[state.decode()].append(key.decode().rsplit(":", 1)[1])
        return found


_slots = iter(range(1, 1_000_000))


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    # NOTE: Redis has 16 databases; each test takes one of 1-15 and empties it.
    return Store(tmp_path, redis_url, 1 + next(_slots) % 15)


def worker_env(store: Store, run_log: Path) -> dict[str, str]:
    return {
        **os.environ,
        **store.settings(),
        "FLASGO_EXTRA__RUN_LOG": str(run_log),
        "FLASGO_TASKS_LEASE_SECONDS": "1.0",
        "FLASGO_TASKS_DRAIN_SECONDS": "5",
        "FLASGO_TASKS_CONCURRENCY": str(CONCURRENCY),
    }


def start_worker(env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    """Start ``flasgo worker`` and return once it says it runs (SIGTERM drains from then)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flasgo", "worker", APP, *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    assert line.startswith(b"Worker "), line  # nothing (no warning) comes before it
    assert b"running queues default=4" in line
    return process


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def enqueue(store: Store, name: str, arguments: list[tuple[object, ...]]) -> list[str]:
    queue = store.queue()
    task = queue.register(lambda *a: None, name=name)

    async def main() -> list[str]:
        try:
            return [(await task.enqueue(args)).id for args in arguments]
        finally:
            await queue.close()

    return asyncio.run(main())


def wait_for(predicate: object, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def executions(run_log: Path) -> collections.Counter[int]:
    if not run_log.exists():
        return collections.Counter()
    return collections.Counter(int(line) for line in run_log.read_text().split())


def test_worker_runs_tasks_and_drains_on_sigterm(
    store: Store, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    run_log = tmp_path / "runs.log"
    enqueue(store, "record", [(n,) for n in range(20)])
    enqueue(store, "slow", [(0.5,)])
    worker = start_worker(worker_env(store, run_log))
    workers.append(worker)
    wait_for(lambda: len(store.states()["done"]) >= 20, "the quick tasks")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=WAIT) == 0
    # Drained: the slow task either finished or was handed back, never left running.
    assert store.states().get("running") is None
    assert sorted(executions(run_log)) == list(range(20))


def test_worker_refuses_a_corrupted_store(tmp_path: Path) -> None:
    database = tmp_path / "tasks.sqlite3"
    database.write_bytes(b"garbage" * 1000)
    done = subprocess.run(
        [sys.executable, "-m", "flasgo", "worker", APP],
        env=worker_env(Store(tmp_path, None, 0), tmp_path / "runs.log"),
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 1
    assert b"is corrupted or not a task database" in done.stderr


def test_worker_needs_a_flasgo_app(tmp_path: Path) -> None:
    target = tmp_path / "plain.py"
    target.write_text("async def app(scope, receive, send):\n    pass\n")
    done = subprocess.run(
        [sys.executable, "-m", "flasgo", "worker", str(target)],
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 2
    assert b"is not a Flasgo app (it has no tasks)" in done.stderr


@pytest.mark.parametrize("trial", range(TRIALS))
def test_kill_9_mid_task_loses_nothing(
    store: Store, tmp_path: Path, workers: list[subprocess.Popen[bytes]], trial: int
) -> None:
    run_log = tmp_path / "runs.log"
    ids = enqueue(store, "record", [(n,) for n in range(TASKS)])
    env = worker_env(store, run_log)
    first = start_worker(env)
    workers.append(first)
    # The kill lands at a random point of the run (seeded by the trial for reproducibility).
    kill_after = random.Random(trial).randint(1, TASKS - CONCURRENCY)
    wait_for(lambda: sum(executions(run_log).values()) >= kill_after, "the first worker")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=WAIT)
    in_flight = set(store.states().get("running", []))
    assert len(in_flight) <= CONCURRENCY

    second = start_worker(env)
    workers.append(second)
    wait_for(lambda: len(store.states()["done"]) == TASKS, "every task to complete")
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=WAIT) == 0

    final = store.states()
    assert sorted(final["done"]) == sorted(ids)  # all complete, none lost, none dead
    runs = executions(run_log)
    assert sorted(runs) == list(range(TASKS))
    # Duplicates only for tasks that were in flight when the worker died, at most twice.
    number_of = {task_id: number for number, task_id in enumerate(ids)}
    duplicated = {number for number, count in runs.items() if count > 1}
    assert duplicated <= {number_of[task_id] for task_id in in_flight}
    assert max(runs.values()) <= 2
