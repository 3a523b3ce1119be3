"""Markdown tables for the results: absolute numbers, ratios to raw ASGI and to the best peer."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

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
