"""Durable tasks on the SQLite store, driven by a real in-process `Worker`: results, retries,
timeouts, dead letters, priorities, delays, idempotency, leases, cancellation and drain."""

from __future__ import annotations

import asyncio
import datetime
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from flasgo import Flasgo
from flasgo.exceptions import ConfigurationError, SetupFrozenError
from flasgo.tasks import (
    RedisTaskBackend,
    SQLiteTaskBackend,
    TaskArgumentsError,
    TaskBackendError,
    TaskFailedError,
    TaskInfo,
    TaskOptions,
    TaskQueue,
    UnknownTaskError,
    Worker,
)

T = TypeVar("T")
WAIT = 20.0  # seconds a test waits for a worker before it fails (never asserted as a timing)


class Store:
    """Where a test's tasks live: a SQLite file or a Redis namespace; `queue` opens a new
    queue on it each time (as another process would)."""

    def __init__(self, kind: str, tmp_path: Path, redis_url: str | None) -> None:
        self.kind = kind
        self.path = tmp_path / "tasks.sqlite3"
        self.redis_url = redis_url
        self.namespace = f"test-tasks:{secrets.token_hex(4)}"

    def queue(self) -> TaskQueue:
        if self.redis_url is None:
            return TaskQueue(SQLiteTaskBackend(self.path))
        return TaskQueue(RedisTaskBackend.from_url(self.redis_url, namespace=self.namespace))


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return Store(request.param, tmp_path, redis_url)


def run(queue: TaskQueue, awaitable: Awaitable[T]) -> T:
    """Await `awaitable` on a new loop, then close `queue` (its connections belong to it)."""

    async def main() -> T:
        try:
            return await awaitable
        finally:
            await queue.close()

    return asyncio.run(main())


async def until_final(queue: TaskQueue, task_id: str) -> TaskInfo:
    async with asyncio.timeout(WAIT):
        while True:
            info = await queue.info(task_id)
            if info.is_final:
                return info
            await asyncio.sleep(0.01)


def with_worker(queue: TaskQueue, body: Callable[[Worker], Awaitable[T]], **options: Any) -> T:
    """Run `body(worker)` while `worker` runs; stop and drain it afterwards."""
    options.setdefault("poll", 0.01)

    async def main() -> T:
        worker = Worker(queue, **options)
        running = asyncio.get_running_loop().create_task(worker.run())
        try:
            return await body(worker)
        finally:
            worker.stop()
            await running
            await queue.close()

    return asyncio.run(main())


def test_async_and_sync_tasks_return_results(store: Store) -> None:
    queue = store.queue()

    async def add(a: int, b: int) -> int:
        return a + b

    def shout(word: str, *, times: int) -> str:
        return word.upper() * times

    add_task = queue.register(add, name="add")
    shout_task = queue.register(shout, name="shout")

    async def body(worker: Worker) -> None:
        first = await add_task.delay(2, 3)
        second = await shout_task.enqueue(("hi",), {"times": 2})
        async with asyncio.timeout(WAIT):
            assert await first.result() == 5
            assert await second.result() == "HIHI"
        info = await second.info()
        assert (info.state, info.attempts, info.name, info.error) == ("done", 1, "shout", None)

    with_worker(queue, body)


def test_calling_a_task_runs_it_here(store: Store) -> None:
    queue = store.queue()
    double = queue.register(lambda x: x * 2, name="double")
    assert double(21) == 42


def test_enqueue_is_durable_when_it_returns(store: Store) -> None:
    queue = store.queue()
    task = queue.register(lambda: None, name="noop")

    async def main() -> str:
        handle = await task.delay()
        await queue.close()
        return handle.id

    task_id = asyncio.run(main())
    # A new store on the same file (as another process would open it) sees the task.
    again = store.queue()

    async def read() -> TaskInfo:
        try:
            return await again.info(task_id)
        finally:
            await again.close()

    assert asyncio.run(read()).state == "queued"


def test_higher_priority_runs_first(store: Store) -> None:
    queue = store.queue()
    order: list[str] = []
    record = queue.register(order.append, name="record")

    async def enqueue() -> None:
        await record.enqueue(("low",), priority=0)
        await record.enqueue(("high",), priority=10)
        await record.enqueue(("low2",), priority=0)

    run(queue, enqueue())

    async def body(worker: Worker) -> None:
        async with asyncio.timeout(WAIT):
            while len(order) < 3:
                await asyncio.sleep(0.01)

    with_worker(queue, body, queues={"default": 1})
    assert order == ["high", "low", "low2"]


def test_countdown_and_eta_delay_a_task(store: Store) -> None:
    queue = store.queue()
    task = queue.register(lambda: "ran", name="later")

    async def main() -> None:
        later = await task.enqueue(countdown=3600)
        scheduled = await task.enqueue(
            eta=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
        )
        past = await task.enqueue(eta=time.time() - 5)
        backend = queue.backend
        claim = await backend.claim("default", worker="test", lease=30)
        assert claim is not None
        assert claim.id == past.id
        assert await backend.claim("default", worker="test", lease=30) is None
        assert (await later.info()).state == "queued"
        assert (await scheduled.info()).state == "queued"
        await queue.close()

    asyncio.run(main())


def test_bad_schedules_are_refused(store: Store) -> None:
    queue = store.queue()
    task = queue.register(lambda: None, name="t")
    with pytest.raises(ValueError, match="countdown or eta"):
        asyncio.run(task.enqueue(countdown=1, eta=time.time()))
    with pytest.raises(ValueError, match="timezone-aware"):
        asyncio.run(task.enqueue(eta=datetime.datetime(2030, 1, 1)))
    with pytest.raises(ValueError, match="idempotency_key"):
        asyncio.run(task.enqueue(idempotency_key=""))


def test_a_failing_task_is_retried_then_succeeds(store: Store) -> None:
    queue = store.queue()
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("not yet")
        return "ok"

    task = queue.register(flaky, name="flaky", retries=3, backoff=0.01, backoff_max=0.02)

    async def body(worker: Worker) -> TaskInfo:
        handle = await task.delay()
        return await until_final(queue, handle.id)

    info = with_worker(queue, body)
    assert (info.state, info.attempts, info.result) == ("done", 3, "ok")
    assert info.error == "RuntimeError: not yet"  # the last failure is kept


def test_a_task_out_of_retries_is_dead_lettered(store: Store) -> None:
    queue = store.queue()

    def broken() -> None:
        raise ValueError("always")

    task = queue.register(broken, name="broken", retries=1, backoff=0.01)

    async def body(worker: Worker) -> tuple[TaskInfo, list[TaskInfo]]:
        handle = await task.delay()
        info = await until_final(queue, handle.id)
        with pytest.raises(TaskFailedError, match="is dead: ValueError: always"):
            await handle.result()
        return info, await queue.dead_letters()

    info, dead = with_worker(queue, body)
    assert (info.state, info.attempts, info.error) == ("dead", 2, "ValueError: always")
    assert [letter.id for letter in dead] == [info.id]


def test_a_task_past_its_timeout_fails(store: Store) -> None:
    queue = store.queue()

    async def hang() -> None:
        await asyncio.sleep(3600)

    def hang_sync() -> None:
        time.sleep(0.5)

    task = queue.register(hang, name="hang", timeout=0.05, retries=0)
    sync_task = queue.register(hang_sync, name="hang_sync", timeout=0.05, retries=0)

    async def body(worker: Worker) -> list[TaskInfo]:
        handles = [await task.delay(), await sync_task.delay()]
        return [await until_final(queue, handle.id) for handle in handles]

    for info in with_worker(queue, body):
        assert info.state == "dead"
        assert info.error == "TimeoutError: the task ran longer than its timeout of 0.05s"


def test_an_unserialisable_result_dead_letters_without_retry(store: Store) -> None:
    queue = store.queue()
    task = queue.register(lambda: object(), name="opaque", retries=5)

    async def body(worker: Worker) -> TaskInfo:
        return await until_final(queue, (await task.delay()).id)

    info = with_worker(queue, body)
    assert (info.state, info.attempts) == ("dead", 1)
    assert info.error is not None
    assert info.error.startswith("TypeError: The task's return value cannot be serialised")


def test_unserialisable_arguments_are_refused_and_nothing_is_stored(store: Store) -> None:
    queue = store.queue()
    task = queue.register(lambda value: value, name="echo")

    async def main() -> list[TaskInfo]:
        with pytest.raises(TaskArgumentsError, match="cannot be serialised"):
            await task.delay(object())
        try:
            return await queue.backend.in_state("queued")
        finally:
            await queue.close()

    assert asyncio.run(main()) == []


def test_an_idempotency_key_stores_the_task_once(store: Store) -> None:
    queue = store.queue()
    task = queue.register(lambda n: n, name="charge")
    other = queue.register(lambda n: n, name="refund")

    async def main() -> None:
        first = await task.enqueue((1,), idempotency_key="order-7")
        second = await task.enqueue((2,), idempotency_key="order-7")
        third = await other.enqueue((3,), idempotency_key="order-7")
        assert (first.created, second.created, third.created) == (True, False, True)
        assert second.id == first.id
        assert third.id != first.id
        assert len(await queue.backend.in_state("queued")) == 2
        await queue.close()

    asyncio.run(main())


def test_a_task_whose_worker_died_is_taken_again_after_its_lease(store: Store) -> None:
    queue = store.queue()
    task = queue.register(lambda: "second try", name="job")

    async def main() -> None:
        handle = await task.delay()
        # A worker takes it and dies: it never completes nor renews the lease.
        claim = await queue.backend.claim("default", worker="dead", lease=0.05)
        assert claim is not None
        assert claim.id == handle.id

    run(queue, main())

    async def body(worker: Worker) -> TaskInfo:
        info = (await queue.backend.in_state("running"))[0]
        return await until_final(queue, info.id)

    info = with_worker(queue, body)
    assert (info.state, info.attempts, info.result) == ("done", 2, "second try")


def test_a_late_worker_cannot_finish_a_task_taken_from_it(store: Store) -> None:
    queue = store.queue()
    task = queue.register(lambda: None, name="job")

    async def main() -> None:
        await task.delay()
        backend = queue.backend
        stale = await backend.claim("default", worker="slow", lease=0.01)
        await asyncio.sleep(0.05)
        fresh = await backend.claim("default", worker="fast", lease=30)
        assert stale is not None
        assert fresh is not None
        assert fresh.id == stale.id
        assert await backend.extend(stale, 30) == "lost"
        assert await backend.complete(stale, b"1") is False
        assert await backend.complete(fresh, b"2") is True
        assert (await queue.info(fresh.id)).result == 2
        await queue.close()

    asyncio.run(main())


def test_a_task_that_keeps_losing_its_worker_is_dead_lettered(store: Store) -> None:
    queue = store.queue()
    task = queue.register(lambda: None, name="killer", retries=1)

    async def main() -> str:
        handle = await task.delay()
        for _ in range(2):  # two attempts, both lost
            assert await queue.backend.claim("default", worker="dead", lease=0.01) is not None
            await asyncio.sleep(0.03)
        return handle.id

    task_id = run(queue, main())

    async def body(worker: Worker) -> TaskInfo:
        return await until_final(queue, task_id)

    info = with_worker(queue, body)
    assert (info.state, info.attempts) == ("dead", 3)
    assert info.error == "the task lost its worker on every attempt"


def test_an_unknown_task_name_is_retried_then_dead_lettered(store: Store) -> None:
    producer = store.queue()
    task = producer.register(lambda: None, name="only.in.producer")

    async def main() -> str:
        try:
            return (await task.delay()).id
        finally:
            await producer.close()

    task_id = asyncio.run(main())
    consumer = store.queue()  # a worker whose code lacks the task

    async def body(worker: Worker) -> TaskInfo:
        async with asyncio.timeout(WAIT):
            while True:
                info = await consumer.info(task_id)
                if info.attempts >= 1 and info.state == "queued":
                    return info
                await asyncio.sleep(0.01)

    info = with_worker(consumer, body)
    assert info.error == "TaskError: no task named 'only.in.producer' is registered in this worker"


def test_cancel_a_queued_task(store: Store) -> None:
    queue = store.queue()
    task = queue.register(lambda: None, name="job")

    async def main() -> None:
        handle = await task.enqueue(countdown=3600)
        assert await handle.cancel() is True
        assert (await handle.info()).state == "cancelled"
        assert await handle.cancel() is False  # already final
        assert await queue.cancel("no-such-id") is False
        with pytest.raises(UnknownTaskError, match="No task with id"):
            await queue.info("no-such-id")
        await queue.close()

    asyncio.run(main())


def test_cancel_a_running_task_stops_it_at_the_next_heartbeat(store: Store) -> None:
    queue = store.queue()
    started = asyncio.Event()

    async def long() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = queue.register(long, name="long")

    async def body(worker: Worker) -> TaskInfo:
        handle = await task.delay()
        async with asyncio.timeout(WAIT):
            await started.wait()
        assert await handle.cancel() is True
        return await until_final(queue, handle.id)

    info = with_worker(queue, body, lease=0.15)
    assert (info.state, info.error) == ("cancelled", "cancelled")


def test_drain_lets_in_flight_tasks_finish(store: Store) -> None:
    queue = store.queue()
    started = asyncio.Event()

    async def short() -> str:
        started.set()
        await asyncio.sleep(0.05)
        return "finished"

    task = queue.register(short, name="short")

    async def body(worker: Worker) -> str:
        handle = await task.delay()
        async with asyncio.timeout(WAIT):
            await started.wait()
        return handle.id

    task_id = with_worker(queue, body, drain=WAIT)
    reader = store.queue()
    info = run(reader, reader.info(task_id))
    assert (info.state, info.result) == ("done", "finished")


def test_drain_hands_back_tasks_that_do_not_finish_in_time(store: Store) -> None:
    queue = store.queue()
    started = asyncio.Event()

    async def endless() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = queue.register(endless, name="endless")

    async def body(worker: Worker) -> str:
        handle = await task.delay()
        async with asyncio.timeout(WAIT):
            await started.wait()
        return handle.id

    task_id = with_worker(queue, body, drain=0)
    reader = store.queue()
    info = run(reader, reader.info(task_id))
    assert (info.state, info.attempts) == ("queued", 0)


def test_retry_delay_is_exponential_capped_and_jittered() -> None:
    options = TaskOptions(backoff=1.0, backoff_max=10.0)
    assert [options.retry_delay(n, 0.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 5.0]
    assert [options.retry_delay(n, 0.999999) for n in (1, 2)] == pytest.approx([1.0, 2.0])
    assert options.retry_delay(10_000, 0.0) == 5.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"queue": "bad queue"}, "queue must be"),
        ({"retries": -1}, "retries must be"),
        ({"timeout": 0}, "timeout must be"),
        ({"backoff": 5.0, "backoff_max": 1.0}, "backoff must be"),
    ],
)
def test_bad_task_options_are_refused(store: Store, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        store.queue().register(lambda: None, name="t", **options)


def module_level_task() -> None:
    """A task registered under its module path."""


def test_app_task_registration(make_app: Callable[..., Flasgo], tmp_path: Path) -> None:
    app = make_app(TASKS_DATABASE=str(tmp_path / "app.sqlite3"))

    plain = app.task(module_level_task)

    @app.task(name="custom", queue="mail", priority=5)
    async def configured() -> None: ...

    assert plain.name == f"{__name__}.module_level_task"
    assert app.tasks.registry["custom"] is configured
    assert configured.options == TaskOptions(queue="mail", priority=5)
    with pytest.raises(ConfigurationError, match="pass name="):
        app.task(lambda: None)  # a lambda has no name a worker can find
    with pytest.raises(ConfigurationError, match="already registered"):
        app.task(name="custom")(lambda: None)
    app.freeze()
    with pytest.raises(SetupFrozenError):
        app.task(lambda: None)


def test_a_corrupted_database_is_reported_at_startup(
    make_app: Callable[..., Flasgo], tmp_path: Path
) -> None:
    database = tmp_path / "tasks.sqlite3"
    database.write_bytes(b"this is not a database" * 100)
    app = make_app(TASKS_DATABASE=str(database))
    app.task(lambda: None, name="t")
    with (
        pytest.raises(RuntimeError, match="TaskBackendError: The task database") as caught,
        app.test_client(),
    ):
        pass
    assert "corrupted or not a task database" in str(caught.value)


def test_a_database_that_cannot_be_created_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    queue = TaskQueue(SQLiteTaskBackend(blocker / "tasks.sqlite3"))
    with pytest.raises(TaskBackendError, match="cannot be opened for writing"):
        asyncio.run(queue.open())


def test_an_app_with_an_in_process_worker_runs_what_a_route_enqueues(
    make_app: Callable[..., Flasgo], tmp_path: Path
) -> None:
    app = make_app(
        TASKS_DATABASE=str(tmp_path / "app.sqlite3"),
        TASKS_IN_PROCESS_WORKER=True,
        CSRF_ENABLED=False,
    )

    @app.task(name="greet")
    async def greet(name: str) -> str:
        return f"hello {name}"

    @app.post("/greet/<name>")
    async def start(name: str) -> dict[str, str]:
        return {"id": (await greet.delay(name)).id}

    @app.get("/tasks/<task_id>")
    async def status(task_id: str) -> dict[str, Any]:
        info = await app.tasks.info(task_id)
        return {"state": info.state, "result": info.result}

    with app.test_client() as client:
        task_id = client.post("/greet/ada").json()["id"]
        deadline = time.monotonic() + WAIT
        body = client.get(f"/tasks/{task_id}").json()
        while body["state"] != "done" and time.monotonic() < deadline:
            time.sleep(0.01)
            body = client.get(f"/tasks/{task_id}").json()
    assert body == {"state": "done", "result": "hello ada"}
