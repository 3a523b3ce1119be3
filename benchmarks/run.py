"""Run the benchmarks and write the report: `python -m benchmarks.run [--short|--quick]`.

In-process (each ASGI app called directly, µs per request, cProfile call counts, Flasgo's route
table scaling, import times), then over loopback (uvicorn on CPU 0, wrk on CPU 1: req/s,
p50/p90/p99/max latency, server CPU and GC collections per 1,000 requests). Prints the
markdown report and writes it to benchmarks/RESULTS.md on a full run (or to `--output`).

A full run (8 apps, 7 endpoints, 1 round of 4 s wrk runs) takes about 7-8 minutes; `--short`
(raw ASGI, Flasgo and Falcon on plaintext, json, query and echo, 3 s runs) about 1-2.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import math
import os
import platform
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.apps import FRAMEWORKS, OURS
from benchmarks.asgi import Lifespan, csrf_headers
from benchmarks.callcount import CallProfile, profile_endpoint
from benchmarks.endpoints import ENDPOINTS, Endpoint
from benchmarks.importtime import IMPORTS, measure_imports
from benchmarks.inprocess import (
    InProcessResult,
    Timing,
    check,
    load_app,
    run_inprocess,
    run_on_uvloop,
)
from benchmarks.loopback import LoopbackResult, WrkConfig, run_loopback
from benchmarks.route_scaling import run_route_scaling
from benchmarks.security_probe import probe_security

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
PACKAGES = (
    "flasgo", "starlette", "fastapi", "litestar", "blacksheep", "falcon", "pydantic",
    "msgspec", "uvicorn", "uvloop", "httptools",
)  # fmt: skip
HOTSPOT_ROWS = 8
SHORT_FRAMEWORKS = "raw,flasgo,falcon"
SHORT_ENDPOINTS = "plaintext,json,query,echo"
LATENCY_REFERENCE = "falcon"
"""The peer the issue's tail-latency target is stated against (p99 within 1.3x of it)."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="in-process only (no loopback)")
    parser.add_argument(
        "--short",
        action="store_true",
        help=(
            f"a ~2 minute run: {SHORT_FRAMEWORKS} on {SHORT_ENDPOINTS}, 3 s wrk runs, "
            "3 in-process repeats, no route scaling (--only/--endpoints/... still apply)"
        ),
    )
    parser.add_argument("--only", help="comma-separated frameworks: " + ",".join(FRAMEWORKS))
    parser.add_argument("--endpoints", help="comma-separated endpoints (default: all)")
    parser.add_argument("--rounds", type=int, default=1, help="loopback rounds (default 1)")
    parser.add_argument("--duration", type=int, help="wrk seconds per run (default 4, short 3)")
    parser.add_argument("--warmup", type=int, default=1, help="wrk warm-up seconds (default 1)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--repeats", type=int, help="in-process repeats (default 5, short 3)")
    parser.add_argument("--seconds", type=float, help="in-process s/repeat (0.3, short 0.2)")
    parser.add_argument(
        "--output",
        type=Path,
        help="write the report here (default: benchmarks/RESULTS.md, on full runs only)",
    )
    args = parser.parse_args(argv)
    short = args.short
    args.only = args.only or (SHORT_FRAMEWORKS if short else None)
    args.endpoints = args.endpoints or (SHORT_ENDPOINTS if short else None)
    args.duration = args.duration or (3 if short else 4)
    args.repeats = args.repeats or (3 if short else 5)
    args.seconds = args.seconds or (0.2 if short else 0.3)
    if min(args.duration, args.repeats, args.rounds, args.connections) < 1 or args.warmup < 0:
        parser.error("--duration, --repeats, --rounds and --connections must be >= 1")
    return args


def _select(raw: str | None, known: Sequence[str], what: str) -> list[str]:
    if not raw:
        return list(known)
    chosen = [item.strip() for item in raw.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return [item for item in known if item in chosen]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _command(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=HERE)
    except OSError:
        return "n/a"
    return (
        (done.stdout or done.stderr).strip().splitlines()[0]
        if (done.stdout or done.stderr)
        else "n/a"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def environment() -> dict[str, str]:
    dirty = _command(["git", "status", "--porcelain", "--untracked-files=no"])
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs (nproc), {_cpu_model()}, {platform.platform()}",
        "python": sys.version.split()[0] + f" ({platform.python_implementation()})",
        "flasgo commit": _command(["git", "rev-parse", "--short", "HEAD"])
        + (" (+ uncommitted changes)" if dirty not in ("", "n/a") else ""),
        "packages": ", ".join(f"{package} {_version(package)}" for package in PACKAGES),
        "wrk": _command(["wrk", "--version"]).split(" Copyright")[0],
        "load average at start": _loadavg(),
    }


def profile_frameworks(
    frameworks: Sequence[str], endpoints: Sequence[Endpoint]
) -> dict[str, dict[str, CallProfile | str]]:
    """cProfile every endpoint of every framework: calls per request and top functions."""
    result: dict[str, dict[str, CallProfile | str]] = {}

    async def profile(app: Any) -> dict[str, CallProfile | str]:
        lifespan = Lifespan(app)
        await lifespan.startup()
        unsafe = await csrf_headers(app, lifespan.state)
        row: dict[str, CallProfile | str] = {}
        try:
            for endpoint in endpoints:
                try:
                    if await check(app, endpoint, lifespan.state, unsafe) is not None:
                        row[endpoint.name] = "FAIL"
                        continue
                    row[endpoint.name] = await profile_endpoint(
                        app, endpoint, lifespan.state, unsafe_headers=unsafe
                    )
                except Exception as exc:
                    row[endpoint.name] = f"{type(exc).__name__}"
        finally:
            await lifespan.shutdown()
        return row

    for name in frameworks:
        try:
            app = load_app(name)
        except Exception:
            result[name] = {endpoint.name: "n/a" for endpoint in endpoints}
            continue
        result[name] = run_on_uvloop(lambda app=app: profile(app))
    return result


def _calls_table(profiles: dict[str, dict[str, CallProfile | str]], columns: list[str]) -> str:
    rows = []
    for name, row in profiles.items():
        cells = []
        for column in columns:
            cell = row.get(column, "—")
            cells.append(
                cell if isinstance(cell, str) else f"{cell.calls:.0f} ({cell.python_calls:.0f})"
            )
        rows.append([report.label(name), *cells])
    return report.markdown_table(["", *columns], rows)


def _hotspots(profiles: dict[str, dict[str, CallProfile | str]], name: str) -> list[str]:
    lines: list[str] = []
    for endpoint, cell in profiles.get(name, {}).items():
        if isinstance(cell, str):
            continue
        lines += [
            f"**{endpoint}**: {cell.calls:.0f} calls/request ({cell.python_calls:.0f} Python)",
            "",
        ]
        rows = [
            [f"`{spot.function}`", f"{spot.calls:g}", f"{spot.own_us:.2f}", f"{spot.share:.0%}"]
            for spot in cell.hotspots[:HOTSPOT_ROWS]
        ]
        lines += [
            report.markdown_table(
                ["function", "calls/req", "own µs/req (profiled)", "share"], rows
            ),
            "",
        ]
    return lines


def _slower_than_peers(
    table: report.Table, columns: list[str], *, lower_is_better: bool, unit: str
) -> list[str]:
    best = report.best_peers(table, columns, lower_is_better=lower_is_better)
    lines = []
    for name in sorted(OURS & set(table)):
        for column in columns:
            value = table[name].get(column)
            if column not in best or not isinstance(value, float):
                continue
            peer, peer_value = best[column]
            slower = value > peer_value if lower_is_better else value < peer_value
            if slower:
                lines.append(
                    f"- {report.label(name)} / {column}: {value:,.2f} {unit} vs "
                    f"{report.label(peer)} {peer_value:,.2f} {unit}"
                )
    return lines or ["- none: Flasgo is ahead of the best peer on every measured endpoint"]


def _latency_table(loop: LoopbackResult, columns: list[str]) -> str:
    rows = []
    for name, row in loop.best.items():
        cells = []
        for column in columns:
            run = row.get(column, "—")
            cells.append(
                run
                if isinstance(run, str)
                else " / ".join(
                    report.fmt_ms(value)
                    for value in (run.p50_ms, run.p90_ms, run.p99_ms, run.max_ms)
                )
            )
        rows.append([report.label(name), *cells])
    return report.markdown_table(["", *columns], rows)


def _security_notes(frameworks: Sequence[str]) -> list[str]:
    lines = []
    for name in sorted(OURS & set(frameworks)):
        probed = probe_security(name)
        lines += [
            f"- {report.label(name)}, probed: " + "; ".join(f"{k}: {v}" for k, v in probed.items())
        ]
    if "flasgo_nosec" not in frameworks:
        return lines
    try:
        from benchmarks.apps import flasgo_nosec
    except Exception as exc:
        return [*lines, f"- Flasgo (security off) could not be built: {type(exc).__name__}: {exc}"]
    lines += [f"- Flasgo (security off) settings applied: `{flasgo_nosec.APPLIED!r}`"]
    lines += [
        f"- setting not supported (left out): `{key}` — {why}"
        for key, why in flasgo_nosec.REJECTED.items()
    ]
    return lines


def build_report(
    args: argparse.Namespace,
    env: dict[str, str],
    columns: list[str],
    inproc: InProcessResult,
    profiles: dict[str, dict[str, CallProfile | str]],
    scaling: dict[int, dict[str, Any]] | None,
    imports: dict[str, float | str],
    loop: LoopbackResult | None,
    frameworks: Sequence[str],
) -> str:
    env["load average at end"] = _loadavg()
    out = ["# Flasgo benchmarks", ""]
    out += [f"- **{key}**: {value}" for key, value in env.items()]
    out += [
        (
            f"- **in-process**: median of {args.repeats} repeats of ~{args.seconds} s each "
            "(thread CPU time), one uvloop event loop, repeats of all frameworks interleaved, "
            "synthetic http scope (host `localhost`), every response checked first"
        ),
        "",
        (
            "How to run: `make bench` (all, ~8 min), `make bench BENCH_ARGS='--short'` (~2 min: "
            "raw, Flasgo, Falcon on 4 endpoints), `BENCH_ARGS='--quick'` (in-process only), "
            "`--only raw,flasgo,falcon`, `--endpoints json,echo`, `--rounds 2 --duration 5`."
            " Entry point: `python -m benchmarks.run`. Noise: in-process ~2-3 %, loopback ~8 % "
            "between rounds on a quiet machine; more when other work shares the CPUs (see the "
            "load averages)."
        ),
        "",
        "## In-process: µs per request (lower is better)",
        "",
        report.value_table(inproc.us, columns, report.fmt_us),
        "",
        "### Times raw ASGI (time / raw's time)",
        "",
        report.ratio_to_raw_table(inproc.us, columns),
        "",
        "### Flasgo vs the best peer (< 1: Flasgo is faster)",
        "",
        report.versus_best_peer_table(inproc.us, columns, report.fmt_us, lower_is_better=True),
        "",
        "### Function calls per request (cProfile): all calls (Python-level functions)",
        "",
        (
            "Counted over 4096 requests after a warm-up; the harness's own calls are left out, "
            "the app's calls to `receive`/`send` are kept. Calls inside C extensions are not "
            "visible."
        ),
        "",
        _calls_table(profiles, columns),
        "",
    ]
    if scaling:
        out += [
            "## Flasgo route table scaling: last of N parametrised routes, µs per request",
            "",
            report.markdown_table(
                ["routes", "constant id", "varying id (4096)"],
                [
                    [
                        str(n),
                        report.fmt_us(row.get("const", "—")),
                        report.fmt_us(row.get("var", "—")),
                    ]
                    for n, row in scaling.items()
                ],
            ),
            "",
        ]
    if loop is not None:
        pin = "server on CPU 0, wrk on CPU 1" if loop.pinned else "not pinned"
        out += [
            "## Over loopback: uvicorn, 1 worker, httptools + uvloop (req/s, higher is better)",
            "",
            (
                f"`wrk -t1 -c{args.connections} -d{args.duration}s --latency`, {pin}, "
                f"{args.warmup} s warm-up per endpoint, best of {args.rounds} round(s) (rounds "
                "interleaved across frameworks, order reversed every other round; p99 from the "
                "best round). echo is a POST through a wrk Lua script; route49_var cycles 4096 "
                "ids through a Lua `request()`."
            ),
            "",
            report.value_table(loop.rps, columns, report.fmt_rps),
            "",
            "### Share of raw ASGI's req/s",
            "",
            report.ratio_to_raw_table(loop.rps, columns),
            "",
            "### Flasgo vs the best peer (> 1: Flasgo is faster)",
            "",
            report.versus_best_peer_table(loop.rps, columns, report.fmt_rps, lower_is_better=False),
            "",
            "### Server CPU per request (µs of uvicorn process CPU, lower is better)",
            "",
            (
                "User + system CPU time of the server process during the measured wrk run, "
                "divided by the requests wrk completed (median of the rounds). Unlike req/s "
                "this hardly moves when other work shares the machine, so it is the steadier "
                "comparison when the spread below is large. It includes uvicorn's own work "
                "and the kernel's on the server's behalf."
            ),
            "",
            report.value_table(loop.cpu_us, columns, report.fmt_us),
            "",
            "#### Times raw ASGI, and vs the best peer (< 1: Flasgo is cheaper)",
            "",
            report.ratio_to_raw_table(loop.cpu_us, columns),
            "",
            report.versus_best_peer_table(
                loop.cpu_us, columns, report.fmt_us, lower_is_better=True
            ),
            "",
            "### p99 latency (ms, lower is better)",
            "",
            report.value_table(loop.p99_ms, columns, report.fmt_ms, mean=False),
            "",
            "#### p99 times raw ASGI's p99",
            "",
            report.ratio_to_raw_table(loop.p99_ms, columns),
            "",
            f"#### p99 times {report.label(LATENCY_REFERENCE)}'s p99",
            "",
            report.ratio_to_table(loop.p99_ms, LATENCY_REFERENCE, columns),
            "",
            "### Latency p50 / p90 / p99 / max (ms)",
            "",
            _latency_table(loop, columns),
            "",
            "### Full (generation 2) garbage collections per 1,000 requests (lower is better)",
            "",
            (
                "Counted inside the server process by a `gc.callbacks` hook that the launcher "
                "(`benchmarks.server`) installs for every app alike, read through a Unix socket "
                "before and after the measured run (warm-up and checks are not counted). A "
                "full collection walks every tracked object: its pause lands on whichever "
                "requests are in flight, which is what the p99 and max columns show."
            ),
            "",
            report.value_table(
                report.metric_table(loop.best, lambda run: run.gc and run.gc.per_1000[2]),
                columns,
                report.fmt_gc,
                mean=False,
            ),
            "",
            "### Per endpoint: every number of the best round",
            "",
            (
                "GC/1k req: collections per 1,000 requests for generations 0, 1 and 2; GC "
                "ms/1k req: time spent collecting (all generations) per 1,000 requests; "
                "longest GC: the longest single collection during the run."
            ),
            "",
        ]
        for column in columns:
            out += [f"#### {column}", "", report.endpoint_detail_table(loop.best, column), ""]
        if args.rounds > 1:
            out += [
                "### Spread of req/s between rounds ((max - min) / median)",
                "",
                report.value_table(
                    {name: dict(row) for name, row in loop.spread.items()},
                    columns,
                    lambda v: v if isinstance(v, str) else f"{v:.0%}",
                    mean=False,
                ),
                "",
                "### p99 (ms) over the rounds: lowest-highest",
                "",
                report.range_table(loop.rounds, columns, lambda run: run.p99_ms, report.fmt_ms),
                "",
                "### Full GC per 1,000 requests over the rounds: lowest-highest",
                "",
                report.range_table(
                    loop.rounds,
                    columns,
                    lambda run: run.gc.per_1000[2] if run.gc else math.nan,
                    report.fmt_gc,
                ),
                "",
            ]
    out += [
        "## Import time (`python -X importtime -c 'import <module>'`, cumulative ms, median of 5)",
        "",
        report.markdown_table(
            ["framework", "module", "ms"],
            [
                [report.label(name), module, report.fmt_us(imports.get(name, "—"))]
                for name, module in IMPORTS.items()
                if name in imports
            ],
        ),
        "",
        "## Where Flasgo is slower than the best peer",
        "",
        "In-process:",
        *_slower_than_peers(inproc.us, columns, lower_is_better=True, unit="µs"),
        "",
    ]
    if loop is not None:
        out += [
            "Over loopback (req/s):",
            *_slower_than_peers(loop.rps, columns, lower_is_better=False, unit="req/s"),
            "",
            "Over loopback (server CPU µs per request):",
            *_slower_than_peers(loop.cpu_us, columns, lower_is_better=True, unit="µs"),
            "",
        ]
    for name in ("flasgo", "flasgo_nosec"):
        if name in profiles:
            out += [f"## Hot spots: {report.label(name)} (cProfile, own time)", ""]
            out += _hotspots(profiles, name)
    notes = inproc.notes + (loop.notes if loop else []) + []
    out += ["## Notes", "", *_security_notes(frameworks), *(f"- {note}" for note in notes), ""]
    return "\n".join(out)


def _interrupt_on_sigterm() -> None:
    # NOTE: SIGTERM unwinds like Ctrl-C, so the uvicorn servers we started are stopped too.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _interrupt_on_sigterm()
    frameworks = _select(args.only, FRAMEWORKS, "frameworks")
    columns = _select(args.endpoints, [e.name for e in ENDPOINTS], "endpoints")
    endpoints = [e for e in ENDPOINTS if e.name in columns]
    env = environment()
    timing = Timing(repeats=args.repeats, seconds=args.seconds)

    print("== in-process", flush=True)
    inproc = run_inprocess(frameworks, endpoints, timing)
    print("== cProfile call counts", flush=True)
    profiles = profile_frameworks(frameworks, endpoints)
    scaling = None
    if "flasgo" in frameworks and not args.short:
        print("== Flasgo route table scaling", flush=True)
        scaling = run_route_scaling(timing=timing)
    print("== import time", flush=True)
    imports = measure_imports(
        {name: module for name, module in IMPORTS.items() if name in frameworks}
    )
    loop = None
    if not args.quick:
        print("== loopback", flush=True)
        config = WrkConfig(args.duration, args.warmup, args.connections, rounds=args.rounds)
        loop = run_loopback(frameworks, endpoints, config)

    text = build_report(args, env, columns, inproc, profiles, scaling, imports, loop, frameworks)
    print(text)
    partial = args.quick or args.only or args.endpoints
    output = args.output or (None if partial else RESULTS)
    if output is not None:
        output.write_text(text + "\n" if not text.endswith("\n") else text)
        print(f"report written to {output}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
