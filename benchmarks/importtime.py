"""`python -X importtime -c "import <package>"`: cumulative import time of a package, in ms."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys

_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def parse_importtime(stderr: str, module: str) -> float:
    """Return the cumulative µs that `import module` took, from `-X importtime` output.

    That is the top-level line of `module` (the last line for a plain package), plus the
    top-level lines of its parent packages when `module` is dotted (`import a.b` imports
    `a`, then `a.b`, each at the top level).

    Raises:
        ValueError: if `module` does not appear as a top-level import.
    """
    root = module.split(".", maxsplit=1)[0]
    total = 0.0
    found = False
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if match is None or len(match.group(3)) != 1:  # nested imports are indented further
            continue
        name = match.group(4)
        if name == root or name.startswith(root + "."):
            total += float(match.group(2))
            found = found or name == module
    if not found:
        raise ValueError(f"{module} not found in -X importtime output")
    return total


def import_ms(module: str, runs: int = 5) -> float:
    """Return the median cumulative import time of `module` in ms over `runs` fresh processes."""
    argv = [sys.executable, "-X", "importtime", "-c", f"import {module}"]
    # NOTE: measured with bytecode caching on, as an installed app runs: the first run writes
    # the .pyc files (PYTHONDONTWRITEBYTECODE would make every run compile from source).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(argv, capture_output=True, check=True, env=env)
    samples = []
    for _ in range(runs):
        done = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        samples.append(parse_importtime(done.stderr, module) / 1000)
    return statistics.median(samples)


IMPORTS: dict[str, str] = {
    "flasgo": "flasgo",
    "starlette": "starlette.applications",
    "fastapi": "fastapi",
    "litestar": "litestar",
    "blacksheep": "blacksheep",
    "falcon": "falcon.asgi",
}
"""Per framework, the module an app imports to get its application class."""


def measure_imports(modules: dict[str, str] | None = None, runs: int = 5) -> dict[str, float | str]:
    """Return import ms per framework; a module that fails to import gets the reason."""
    result: dict[str, float | str] = {}
    for framework, module in (modules or IMPORTS).items():
        try:
            result[framework] = import_ms(module, runs)
        except subprocess.CalledProcessError as exc:
            last = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
            result[framework] = f"import failed: {' '.join(last)}"
        except ValueError as exc:
            result[framework] = f"failed: {exc}"
    return result
