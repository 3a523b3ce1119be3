"""Read deadlines: expired reads are cancelled and reported; other cancellations are not."""

from __future__ import annotations

import asyncio

import pytest

from flasgo.deadlines import ReadDeadlines


def test_expired_task_is_cancelled_and_reported() -> None:
    deadlines = ReadDeadlines()

    async def main() -> bool:
        task = asyncio.current_task()
        assert task is not None
        sweeper = deadlines.start(task, 0.01)
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            task.uncancel()
            return deadlines.finish(sweeper, task)
        return False

    assert asyncio.run(main()) is True


def test_outside_cancellation_is_not_a_timeout() -> None:
    deadlines = ReadDeadlines()
    results: list[bool] = []

    async def reader() -> None:
        task = asyncio.current_task()
        assert task is not None
        sweeper = deadlines.start(task, 60)
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            results.append(deadlines.finish(sweeper, task))
            raise

    async def main() -> None:
        task = asyncio.create_task(reader())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert results == [False]


def test_sweepers_of_closed_loops_are_dropped() -> None:
    deadlines = ReadDeadlines()

    async def once() -> None:
        task = asyncio.current_task()
        assert task is not None
        sweeper = deadlines.start(task, 60)
        assert deadlines.finish(sweeper, task) is False

    asyncio.run(once())
    asyncio.run(once())
    assert len(deadlines._sweepers) == 1
