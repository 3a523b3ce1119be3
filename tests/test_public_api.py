"""The public API: every exported name resolves, and `import flasgo` stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import flasgo


@pytest.mark.parametrize("name", flasgo.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(flasgo, name) is not None


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = flasgo.NoSuchThing


def test_import_does_not_load_servers_templates_cli_or_the_test_client() -> None:
    code = (
        "import sys, flasgo; "
        "heavy = {'uvicorn', 'granian', 'jinja2', 'click', 'flasgo.testing', 'flasgo.cli', "
        "'redis', 'pydantic', 'watchfiles'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
