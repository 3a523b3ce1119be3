"""The app the worker-process tests run under ``flasgo worker`` (configured by environment:
``FLASGO_TASKS_DATABASE``, ``FLASGO_EXTRA__RUN_LOG``, ``FLASGO_TASKS_*``)."""

from __future__ import annotations

import os
import time

from flasgo import Flasgo

app = Flasgo({"SECRET_KEY": "process-app-secret-" + "p" * 32})


@app.task(name="record", retries=50, backoff=0.01, backoff_max=0.05)
def record(number: int) -> int:
    """Append `number` to the run log (one line per execution), then return it."""
    log = os.open(str(app.settings.get("RUN_LOG")), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(log, f"{number}\n".encode())
    finally:
        os.close(log)
    time.sleep(0.002)  # long enough for a kill to land mid-task now and then
    return number


@app.task(name="slow")
async def slow(seconds: float) -> str:
    """Sleep, then answer (for the drain test)."""
    import asyncio

    await asyncio.sleep(seconds)
    return "slept"
