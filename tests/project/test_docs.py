"""Every Python example in README.md and docs/ is executed (its asserts are the expectations)."""

from __future__ import annotations

import copy
import logging
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _examples() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for number, match in enumerate(BLOCK.finditer(text), start=1):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{path.relative_to(ROOT)}:{line}#{number}", match.group(1)))
    return found


EXAMPLES = _examples()


def test_the_readme_has_examples() -> None:
    assert len([name for name, _ in EXAMPLES if name.startswith("README.md")]) >= 8


@pytest.mark.parametrize(("name", "source"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_example_runs(name: str, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real module, so dataclasses and pickling can find it; no __future__ flags inherited.
    # An example may configure the flasgo loggers; the rest of the suite gets them back.
    logger = logging.getLogger("flasgo")
    for attribute in ("handlers", "level", "propagate"):
        monkeypatch.setattr(logger, attribute, copy.copy(getattr(logger, attribute)))
    module = types.ModuleType(f"docs_example_{abs(hash(name))}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(source, name, "exec", dont_inherit=True), module.__dict__)
