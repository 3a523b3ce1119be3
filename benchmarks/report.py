"""Markdown tables for the results: absolute numbers, ratios to raw ASGI and to the best peer."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks.apps import BASELINE, OURS, is_peer

Cell = float | str
Table = Mapping[str, Mapping[str, Cell]]

LABELS = {
    "raw": "raw ASGI (the limit)",
    "flasgo": "**Flasgo** (secure defaults)",
    "flasgo_nosec": "**Flasgo** (security off)",
    "starlette": "Starlette",
    "fastapi": "FastAPI",
    "litestar": "Litestar",
    "blacksheep": "BlackSheep",
    "falcon": "Falcon",
}


def label(name: str) -> str:
    """Return the display name of a framework row."""
    return LABELS.get(name, name)


def fmt_us(value: Cell) -> str:
    """Format µs: two decimals below 10, one above."""
    if isinstance(value, str):
        return value
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def fmt_rps(value: Cell) -> str:
    """Format requests per second with thousands separators."""
    return value if isinstance(value, str) else f"{value:,.0f}"


def fmt_ms(value: Cell) -> str:
    """Format milliseconds with two decimals."""
    return value if isinstance(value, str) else f"{value:.2f}"


def fmt_ratio(value: Cell) -> str:
    """Format a ratio with two decimals."""
    return value if isinstance(value, str) else f"{value:.2f}"


def geomean(values: Sequence[Cell]) -> Cell:
    """Return the geometric mean, or an em dash if any value is missing."""
    if not values or any(isinstance(value, str) for value in values):
        return "—"
    return math.exp(sum(math.log(float(value)) for value in values) / len(values))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Render a markdown table; every column but the first is right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def value_table(
    table: Table, columns: Sequence[str], fmt: Callable[[Cell], str], *, mean: bool = True
) -> str:
    """Render absolute values: one row per framework, one column per endpoint (+ geomean)."""
    header = ["", *columns, *(["geomean"] if mean else [])]
    rows = []
    for name, row in table.items():
        cells = [row.get(column, "—") for column in columns]
        rows.append([label(name), *map(fmt, cells), *([fmt(geomean(cells))] if mean else [])])
    return markdown_table(header, rows)


def _ratio(value: Cell, reference: Cell) -> Cell:
    if isinstance(value, str) or isinstance(reference, str) or not reference:
        return "—"
    return value / reference


def ratio_to_raw_table(table: Table, columns: Sequence[str]) -> str:
    """Render each framework's value divided by raw ASGI's, per endpoint (+ geomean)."""
    raw = table.get(BASELINE)
    if raw is None:
        return "_raw ASGI was not measured._"
    ratios = {
        name: {column: _ratio(row.get(column, "—"), raw.get(column, "—")) for column in columns}
        for name, row in table.items()
        if name != BASELINE
    }
    return value_table(ratios, columns, fmt_ratio)


def best_peers(
    table: Table, columns: Sequence[str], *, lower_is_better: bool
) -> dict[str, tuple[str, float]]:
    """Return, per endpoint, the best peer's name and value (peers: not raw, not Flasgo)."""
    best: dict[str, tuple[str, float]] = {}
    for column in columns:
        candidates = [
            (float(row[column]), name)
            for name, row in table.items()
            if is_peer(name) and not isinstance(row.get(column, "—"), str)
        ]
        if candidates:
            value, name = min(candidates) if lower_is_better else max(candidates)
            best[column] = (name, value)
    return best


def versus_best_peer_table(
    table: Table, columns: Sequence[str], fmt: Callable[[Cell], str], *, lower_is_better: bool
) -> str:
    """Render the best peer per endpoint and Flasgo's value divided by it."""
    best = best_peers(table, columns, lower_is_better=lower_is_better)
    header = ["", *columns, "geomean"]
    names = [label(best[c][0]) if c in best else "—" for c in columns]
    values: list[Cell] = [best[c][1] if c in best else "—" for c in columns]
    rows = [["best peer", *names, ""], ["best peer value", *map(fmt, values), fmt(geomean(values))]]
    for name in sorted(OURS & set(table)):
        ratios = [
            _ratio(table[name].get(c, "—"), best[c][1] if c in best else "—") for c in columns
        ]
        rows.append(
            [f"{label(name)} / best peer", *map(fmt_ratio, ratios), fmt_ratio(geomean(ratios))]
        )
    return markdown_table(header, rows)


def metric_table(
    best: Mapping[str, Mapping[str, object]], value: Callable[[Any], float | None]
) -> dict[str, dict[str, Cell]]:
    """Pick one number out of every run (`value(run)`); failures and missing numbers stay text."""
    table: dict[str, dict[str, Cell]] = {}
    for name, row in best.items():
        table[name] = {}
        for column, run in row.items():
            if isinstance(run, str):
                table[name][column] = run
                continue
            number = value(run)
            table[name][column] = "n/a" if number is None or math.isnan(number) else number
    return table


def ratio_to_table(table: Table, reference: str, columns: Sequence[str]) -> str:
    """Render each row divided by row `reference`, per endpoint (+ geomean)."""
    base = table.get(reference)
    if base is None:
        return f"_{label(reference)} was not measured._"
    ratios = {
        name: {column: _ratio(row.get(column, "—"), base.get(column, "—")) for column in columns}
        for name, row in table.items()
        if name != reference
    }
    return value_table(ratios, columns, fmt_ratio)


def fmt_gc(value: Cell) -> str:
    """Format collections per 1,000 requests: two decimals, a plain 0 when there were none."""
    if isinstance(value, str):
        return value
    return "0" if value == 0 else f"{value:.2f}"


def endpoint_detail_table(
    best: Mapping[str, Mapping[str, object]], endpoint: str, baseline: str = BASELINE
) -> str:
    """Render every number of one endpoint's best round, one row per framework.

    Columns: req/s and its share of raw ASGI's, latency percentiles, p99 over raw's p99,
    GC collections per 1,000 requests per generation, GC pause ms per 1,000 requests and
    the longest single pause.
    """
    header = [
        "", "req/s", "× raw", "p50 ms", "p90 ms", "p99 ms", "max ms", "p99 × raw",
        "GC/1k req gen0 / gen1 / gen2", "GC ms/1k req", "longest GC ms",
    ]  # fmt: skip
    raw_run: Any = best.get(baseline, {}).get(endpoint)
    rows = []
    for name, row in best.items():
        run: Any = row.get(endpoint, "—")
        if isinstance(run, str):
            rows.append([label(name), run, *(["—"] * (len(header) - 2))])
            continue
        raw_rps: Cell = raw_run.rps if raw_run is not None and not isinstance(raw_run, str) else "—"
        raw_p99: Cell = (
            raw_run.p99_ms if raw_run is not None and not isinstance(raw_run, str) else "—"
        )
        gc = run.gc
        rows.append(
            [
                label(name),
                fmt_rps(run.rps),
                fmt_ratio(_ratio(run.rps, raw_rps)),
                fmt_ms(run.p50_ms),
                fmt_ms(run.p90_ms),
                fmt_ms(run.p99_ms),
                fmt_ms(run.max_ms),
                fmt_ratio(_ratio(run.p99_ms, raw_p99)),
                " / ".join(fmt_gc(count) for count in gc.per_1000) if gc else "n/a",
                f"{gc.pause_ms_per_1000:.2f}" if gc else "n/a",
                f"{gc.max_pause_ms:.2f}" if gc else "n/a",
            ]
        )
    return markdown_table(header, rows)


def range_table(
    rounds: Mapping[str, Mapping[str, Sequence[Any]]],
    columns: Sequence[str],
    value: Callable[[Any], float],
    fmt: Callable[[float], str],
) -> str:
    """Render min-max of `value(run)` over the rounds, per framework and endpoint."""
    rows = []
    for name, row in rounds.items():
        cells = []
        for column in columns:
            values = [value(run) for run in row.get(column, [])]
            cells.append(f"{fmt(min(values))}–{fmt(max(values))}" if values else "—")
        rows.append([label(name), *cells])
    return markdown_table(["", *columns], rows)
