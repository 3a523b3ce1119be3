"""Read deadlines: cancel a request's task when reading its body takes too long.

PERF: arming a loop timer per body read costs ~1.3 µs even on uvloop (asyncio.timeout() costs
~5 µs). Instead each read registers its task with a deadline in a dict, and one timer per loop
sweeps the dict about once a second while reads are pending. A 10 s read timeout therefore
fires within 10-11 s, which is what a slow-body defence needs.
"""

from __future__ import annotations

import asyncio

__all__ = ["ReadDeadlines"]

SWEEP_INTERVAL = 1.0


class _LoopSweeper:
    __slots__ = ("expired", "loop", "pending", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: dict[asyncio.Task[object], float] = {}
        self.expired: set[asyncio.Task[object]] = set()
        self.timer: asyncio.TimerHandle | None = None

    def sweep(self) -> None:
        self.timer = None
        now = self.loop.time()
        for task, deadline in list(self.pending.items()):
            if deadline <= now:
                del self.pending[task]
                self.expired.add(task)
                task.cancel()
        if self.pending:
            self.timer = self.loop.call_later(SWEEP_INTERVAL, self.sweep)


class ReadDeadlines:
    """Tracks tasks that are reading a request body, one sweeper per event loop."""

    __slots__ = ("_sweepers",)

    def __init__(self) -> None:
        self._sweepers: dict[asyncio.AbstractEventLoop, _LoopSweeper] = {}

    def start(self, task: asyncio.Task[object], timeout: float) -> _LoopSweeper:
        """Register `task`; it is cancelled once `timeout` seconds have passed."""
        loop = task.get_loop()
        sweeper = self._sweepers.get(loop)
        if sweeper is None:
            # NOTE: loops come and go in tests; drop sweepers of closed loops.
            self._sweepers = {k: v for k, v in self._sweepers.items() if not k.is_closed()}
            sweeper = self._sweepers[loop] = _LoopSweeper(loop)
        sweeper.pending[task] = loop.time() + timeout
        if sweeper.timer is None:
            sweeper.timer = loop.call_later(min(timeout, SWEEP_INTERVAL), sweeper.sweep)
        return sweeper

    @staticmethod
    def finish(sweeper: _LoopSweeper, task: asyncio.Task[object]) -> bool:
        """Unregister `task`; return True when its deadline had passed (it was cancelled)."""
        sweeper.pending.pop(task, None)
        if task in sweeper.expired:
            sweeper.expired.discard(task)
            return True
        return False
