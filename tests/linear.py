"""A robust linear-time check: time n against 2n and report the ratio.

The only timing assertion the suite allows. CPU time of this thread (other processes do not
count), the two sizes measured in alternation, the collector paused, the best of several
repeats; and when a measurement lands above the limit it is taken again (up to `attempts`
times), so a noisy machine cannot fail it while a quadratic algorithm fails every attempt.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

LIMIT = 2.5


def _measure(small: Callable[[], object], large: Callable[[], object], repeats: int) -> float:
    best_small = best_large = float("inf")
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.thread_time()
            small()
            best_small = min(best_small, time.thread_time() - start)
            start = time.thread_time()
            large()
            best_large = min(best_large, time.thread_time() - start)
    finally:
        if enabled:
            gc.enable()
    return best_large / max(best_small, 1e-9)


def linear_ratio(
    small: Callable[[], object],
    large: Callable[[], object],
    *,
    repeats: int = 7,
    attempts: int = 3,
) -> float:
    """Time(large) / time(small), the best of `attempts` measurements."""
    best = float("inf")
    for _ in range(attempts):
        best = min(best, _measure(small, large, repeats))
        if best <= LIMIT:
            break
    return best
