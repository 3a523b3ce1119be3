"""Serve one benchmark app under uvicorn and count the server process's garbage collections.

`python -m benchmarks.server benchmarks.apps.<name>:app --port N --stats PATH`

The counting lives here, in the launcher, not in the apps: every framework is measured the
same way and no app carries benchmark code. A `gc.callbacks` hook counts collections per
generation and times each pause. The numbers leave the process through a side channel that
is not HTTP (a Unix socket at PATH, answered by a daemon thread), so reading them adds no
request to a run and no route or middleware to an app.
"""

from __future__ import annotations

import argparse
import gc
import json
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

GENERATIONS = 3


class GcCounter:
    """Collections and pause time per generation, as a `gc.callbacks` hook records them."""

    def __init__(self) -> None:
        self.collections = [0] * GENERATIONS
        self.pause_s = [0.0] * GENERATIONS
        self.max_pause_s = 0.0
        """Longest single pause since the last `snapshot()`."""
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        # PERF: two calls per collection, no allocation beyond a float: the hook must not
        # make the collections it counts more frequent or longer.
        if phase == "start":
            self._started = time.perf_counter()
            return
        paused = time.perf_counter() - self._started
        generation = info["generation"]
        self.collections[generation] += 1
        self.pause_s[generation] += paused
        self.max_pause_s = max(self.max_pause_s, paused)

    def snapshot(self) -> dict[str, Any]:
        """Return the totals so far and the longest pause since the previous snapshot."""
        longest, self.max_pause_s = self.max_pause_s, 0.0
        return {
            "collections": list(self.collections),
            "pause_s": list(self.pause_s),
            "max_pause_s": longest,
        }


def read_stats(path: str, timeout: float = 5.0) -> dict[str, Any]:
    """Ask the server listening on the Unix socket `path` for its GC snapshot."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    result: dict[str, Any] = json.loads(b"".join(chunks))
    return result


def _answer_forever(listener: socket.socket, counter: GcCounter) -> None:
    while True:
        connection, _ = listener.accept()
        with connection:
            connection.sendall(json.dumps(counter.snapshot()).encode())


def start_stats_channel(path: str, counter: GcCounter) -> None:
    """Answer every connection to the Unix socket `path` with `counter.snapshot()` as JSON."""
    Path(path).unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)
    # NOTE: a daemon thread blocked in accept() holds no GIL, so it costs the server nothing
    # while a run is measured; it is only woken before and after each run.
    threading.Thread(
        target=_answer_forever, args=(listener, counter), name="gc-stats", daemon=True
    ).start()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server", description=__doc__)
    parser.add_argument("app", help="module:attribute of the ASGI app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stats", required=True, help="Unix socket path for the GC numbers")
    args = parser.parse_args(argv)
    counter = GcCounter()
    gc.callbacks.append(counter)
    start_stats_channel(args.stats, counter)
    uvicorn.run(
        args.app,
        host=args.host,
        port=args.port,
        http="httptools",
        loop="uvloop",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
