"""Over loopback: each app under uvicorn on CPU 0, `wrk` on CPU 1.

Per (framework, endpoint): req/s, latency percentiles (p50/p90/p99/max), the server's CPU time
per request and its garbage collections per 1,000 requests (counted inside the server process
by `benchmarks.server`, read through a side channel before and after each measured run).
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.asgi import SAFE_METHODS, Headers, csrf_cookie, unsafe_request_headers
from benchmarks.endpoints import ENDPOINTS, VAR_IDS, Endpoint
from benchmarks.server import GENERATIONS, read_stats

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = "0"
CLIENT_CPU = "1"

Cell = float | str


@dataclass
class WrkConfig:
    """How hard and how long wrk drives each endpoint."""

    duration: int = 5
    warmup: int = 1
    """Seconds of unmeasured wrk load before each measured run (wrk takes whole seconds)."""
    connections: int = 64
    threads: int = 1
    rounds: int = 1


@dataclass(frozen=True, slots=True)
class GcRun:
    """The server's garbage collections during one measured run, per 1,000 requests."""

    per_1000: tuple[float, ...]
    """Collections per generation (0, 1, 2) per 1,000 completed requests."""
    pause_ms_per_1000: float
    """Milliseconds spent in collections (all generations) per 1,000 requests."""
    max_pause_ms: float
    """The longest single collection during the run."""


@dataclass(frozen=True, slots=True)
class WrkRun:
    """One wrk run's numbers."""

    rps: float
    p99_ms: float
    errors: int
    requests: int = 0
    p50_ms: float = math.nan
    p90_ms: float = math.nan
    max_ms: float = math.nan
    server_cpu_us: float | None = None
    """Server process CPU time (user + system) per completed request."""
    gc: GcRun | None = None


@dataclass
class LoopbackResult:
    """Best req/s over the rounds, and the p99 latency of that round, per (framework, endpoint).

    Best, not median: other work on the machine can only take throughput away, so the best
    round is the closest to what the framework can do; `spread` shows how far the rounds agree.
    """

    rps: dict[str, dict[str, Cell]] = field(default_factory=dict)
    p99_ms: dict[str, dict[str, Cell]] = field(default_factory=dict)
    best: dict[str, dict[str, WrkRun | str]] = field(default_factory=dict)
    """The round with the best req/s (all its numbers), or why there is none."""
    rounds: dict[str, dict[str, list[WrkRun]]] = field(default_factory=dict)
    """Every successful round, in the order run."""
    spread: dict[str, dict[str, float]] = field(default_factory=dict)
    """(max - min) / median of req/s over the rounds."""
    cpu_us: dict[str, dict[str, Cell]] = field(default_factory=dict)
    """Median over the rounds of the server's CPU µs per request: unlike req/s, barely moved
    by other work on the machine (it only counts the time the server itself was running)."""
    notes: list[str] = field(default_factory=list)
    pinned: bool = True


def ensure_wrk() -> str:
    """Return the path of wrk, installing the Debian package first when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing it with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL
    )
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is still missing after apt-get install -y wrk")
    return found


def can_pin() -> bool:
    """Tell whether server and client can get a core each (taskset and >= 2 CPUs)."""
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def _pinned(cpu: str, argv: list[str], pin: bool) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if pin else argv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_accepting(process: subprocess.Popen[bytes], port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not accept connections within {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds process `pid` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # NOTE: after the ")" closing the command name, fields[11] and [12] are utime and stime.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Server:
    """A running server: where it listens and which process to charge CPU time to."""

    port: int
    pid: int
    unsafe_headers: Headers = dataclasses.field(default_factory=list)
    """What a client that visited once sends on unsafe requests (CSRF cookie and token)."""
    stats: str = ""
    """Unix socket answering the server's GC counters (see benchmarks.server)."""


@contextlib.contextmanager
def serve(name: str, pin: bool) -> Iterator[Server]:
    """Run `benchmarks.apps.<name>:app` under uvicorn; yield it once it accepts.

    The launcher (`benchmarks.server`) runs uvicorn with httptools and uvloop, no access log,
    lifespan on, and counts the process's garbage collections for every framework alike.
    """
    port = _free_port()
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryFile() as log:
        stats = str(Path(scratch) / "gc.sock")
        argv = [sys.executable, "-m", "benchmarks.server", f"benchmarks.apps.{name}:app"]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--stats", stats]
        process = subprocess.Popen(
            _pinned(SERVER_CPU, argv, pin), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            try:
                _wait_accepting(process, port)
            except RuntimeError as exc:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"{exc}\n{tail}") from None
            # NOTE: taskset execs the server, so the pid is the server's own.
            yield Server(port, process.pid, http_csrf_headers(port), stats)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def http_csrf_headers(port: int) -> Headers:
    """GET / once as a first visit (a page); return the headers for unsafe requests (see asgi)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        cookies = [value.encode("latin-1") for value in response.headers.get_all("set-cookie", [])]
    finally:
        conn.close()
    return unsafe_request_headers(csrf_cookie(cookies), f"http://127.0.0.1:{port}".encode())


def _request_headers(endpoint: Endpoint, unsafe: Headers) -> dict[str, str]:
    headers = {"Content-Type": "application/json"} if endpoint.body else {}
    if endpoint.method not in SAFE_METHODS:
        headers |= {name.decode(): value.decode("latin-1") for name, value in unsafe}
    return headers


def check_http(port: int, endpoint: Endpoint, unsafe: Headers) -> str | None:
    """Request a few probes of `endpoint` over HTTP; return what is wrong, or None."""
    for probe in endpoint.probes[:3]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            headers = _request_headers(endpoint, unsafe)
            conn.request(endpoint.method, probe.target, body=endpoint.body or None, headers=headers)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            return f"{probe.target}: status {response.status}, body {body[:200]!r}"
        got: object = body.decode() if endpoint.is_text else json.loads(body)
        if json.dumps(got, sort_keys=True) != json.dumps(probe.expected, sort_keys=True):
            return f"{probe.target}: body {body[:200]!r}, want {probe.expected!r}"
    return None


def lua_script(endpoint: Endpoint, unsafe: Headers) -> str | None:
    """Return the wrk Lua script `endpoint` needs (POST body, varying path), or None."""
    if endpoint.body:
        headers = "".join(
            f'wrk.headers["{name}"] = "{value}"\n'
            for name, value in _request_headers(endpoint, unsafe).items()
        )
        return (
            f"wrk.method = \"{endpoint.method}\"\nwrk.body = '{endpoint.body.decode()}'\n{headers}"
        )

    if len(endpoint.probes) > 1:
        prefix = endpoint.probes[0].path.rsplit("/", 1)[0]
        return (
            "local i = 0\n"
            "request = function()\n"
            f"  i = (i + 1) % {VAR_IDS}\n"
            f'  return wrk.format("GET", "{prefix}/" .. i)\n'
            "end\n"
        )
    return None


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(number: str, unit: str) -> float:
    return float(number) * _UNITS[unit]


def _percentile_ms(output: str, percent: int) -> float:
    match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if match is None:
        raise ValueError(f"no {percent}% latency in wrk output:\n{output}")
    return _ms(match.group(1), match.group(2))


def parse_wrk(output: str) -> WrkRun:
    """Parse req/s, latency (p50/p90/p99/max, ms) and error counts out of `wrk --latency`.

    The max is the "Latency" line of the thread stats (avg, stdev, max): with one wrk thread
    it is the slowest request of the run.
    """
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    requests = re.search(r"(\d+) requests in", output)
    latency = re.search(r"^\s*Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)\s", output, re.MULTILINE)
    if rps is None or latency is None:
        raise ValueError(f"cannot parse wrk output:\n{output}")
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(group) for group in match.groups())
    return WrkRun(
        rps=float(rps.group(1)),
        p99_ms=_percentile_ms(output, 99),
        errors=errors,
        requests=int(requests.group(1)) if requests else 0,
        p50_ms=_percentile_ms(output, 50),
        p90_ms=_percentile_ms(output, 90),
        max_ms=_ms(latency.group(1), latency.group(2)),
    )


def gc_run(before: dict[str, Any], after: dict[str, Any], requests: int) -> GcRun:
    """Turn two server GC snapshots taken around a run of `requests` into per-1,000 rates."""
    per = 1000 / requests
    counts = tuple(
        (after["collections"][g] - before["collections"][g]) * per for g in range(GENERATIONS)
    )
    pause = sum(after["pause_s"]) - sum(before["pause_s"])
    return GcRun(counts, pause * 1e3 * per, after["max_pause_s"] * 1e3)


def run_wrk(
    server: Server, endpoint: Endpoint, seconds: int, config: WrkConfig, pin: bool
) -> WrkRun:
    """Drive `endpoint` on `server` with wrk for `seconds`; charge the server's CPU time."""
    url = f"http://127.0.0.1:{server.port}{endpoint.probes[0].target}"
    argv = ["wrk", f"-t{config.threads}", f"-c{config.connections}", f"-d{seconds}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        if (lua := lua_script(endpoint, server.unsafe_headers)) is not None:
            script.write(lua)
            script.flush()
            argv += ["-s", script.name]
        # NOTE: the snapshot also resets the server's "longest pause", so the max after the
        # run is the longest pause during it.
        gc_before = read_stats(server.stats) if server.stats else None
        cpu_before = cpu_seconds(server.pid)
        done = subprocess.run(
            _pinned(CLIENT_CPU, [*argv, url], pin),
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 30,
        )
        cpu_used = cpu_seconds(server.pid) - cpu_before
        gc_after = read_stats(server.stats) if server.stats else None
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    run = parse_wrk(done.stdout)
    if run.requests:
        run = dataclasses.replace(
            run,
            server_cpu_us=cpu_used / run.requests * 1e6,
            gc=(
                gc_run(gc_before, gc_after, run.requests)
                if gc_before is not None and gc_after is not None
                else None
            ),
        )
    return run


def _bench_server(
    name: str, endpoints: list[Endpoint], config: WrkConfig, pin: bool, notes: list[str]
) -> dict[str, WrkRun | str]:
    row: dict[str, WrkRun | str] = {}
    try:
        with serve(name, pin) as server:
            for endpoint in endpoints:
                problem = check_http(server.port, endpoint, server.unsafe_headers)
                if problem is not None:
                    notes.append(f"loopback {name}/{endpoint.name}: FAIL {problem}")
                    row[endpoint.name] = "FAIL"
                    continue
                if config.warmup > 0:
                    run_wrk(server, endpoint, config.warmup, config, pin)
                run = run_wrk(server, endpoint, config.duration, config, pin)
                if run.errors:
                    notes.append(f"loopback {name}/{endpoint.name}: {run.errors} errors in wrk run")
                row[endpoint.name] = run
                full = f"{run.gc.per_1000[2]:5.2f}" if run.gc else "  n/a"
                print(
                    f"  {name:<13} {endpoint.name:<12} {run.rps:10,.0f} req/s  "
                    f"p50 {run.p50_ms:5.2f} p99 {run.p99_ms:6.2f} max {run.max_ms:7.2f} ms  "
                    f"server {run.server_cpu_us or 0:5.1f} µs CPU/req  gen2 GC/1k req {full}",
                    flush=True,
                )
    except Exception as exc:
        notes.append(f"loopback {name}: {type(exc).__name__}: {exc}".strip())
        for endpoint in endpoints:
            row.setdefault(endpoint.name, "n/a")
    return row


def run_loopback(
    frameworks: Iterable[str],
    endpoints: Iterable[Endpoint] = ENDPOINTS,
    config: WrkConfig | None = None,
) -> LoopbackResult:
    """Serve each framework under uvicorn and measure every endpoint with wrk, `rounds` times.

    Rounds are interleaved (every framework once per round, the order reversed every other
    round) so that slow drift and bursts of other load hit all frameworks alike.
    """
    config = config or WrkConfig()
    ensure_wrk()
    frameworks, endpoints = list(frameworks), list(endpoints)
    result = LoopbackResult(pinned=can_pin())
    if not result.pinned:
        result.notes.append("loopback: taskset or a second CPU missing; server and wrk not pinned")
    runs: dict[str, dict[str, list[WrkRun | str]]] = {name: {} for name in frameworks}
    for round_no in range(1, config.rounds + 1):
        print(f"loopback round {round_no}/{config.rounds}", flush=True)
        order = frameworks if round_no % 2 else frameworks[::-1]
        for name in order:
            row = _bench_server(name, endpoints, config, result.pinned, result.notes)
            for endpoint, run in row.items():
                runs[name].setdefault(endpoint, []).append(run)
    for name in frameworks:
        result.rps[name], result.p99_ms[name], result.spread[name] = {}, {}, {}
        result.cpu_us[name], result.best[name], result.rounds[name] = {}, {}, {}
        for endpoint, cells in runs[name].items():
            good = [run for run in cells if isinstance(run, WrkRun)]
            if len(good) < len(cells):
                failure = next(run for run in cells if isinstance(run, str))
                result.rps[name][endpoint] = result.p99_ms[name][endpoint] = failure
                result.cpu_us[name][endpoint] = result.best[name][endpoint] = failure
                continue
            best = max(good, key=lambda run: run.rps)
            result.best[name][endpoint] = best
            result.rounds[name][endpoint] = good
            rps = [run.rps for run in good]
            result.rps[name][endpoint] = best.rps
            result.p99_ms[name][endpoint] = best.p99_ms
            result.spread[name][endpoint] = (max(rps) - min(rps)) / statistics.median(rps)
            cpu = [run.server_cpu_us for run in good if run.server_cpu_us is not None]
            result.cpu_us[name][endpoint] = statistics.median(cpu) if cpu else "n/a"
    return result
