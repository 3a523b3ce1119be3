"""Reading a ``.env`` file into the environment for the command line (``flasgo run``...).

The format is the common subset: ``KEY=value`` lines, an optional ``export`` prefix, ``#``
comments and blank lines, values optionally in single quotes (taken as they are) or double
quotes (``\\n``, ``\\"`` and ``\\\\`` escapes). Variables already in the environment win, so a
deployment's real environment is never overridden by a stray file. ``FLASGO_SKIP_DOTENV=1``
skips the file. Errors name the line, never its value (it may be a secret).
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from pathlib import Path

__all__ = ["SKIP_ENV", "EnvFileError", "load_env_file", "parse_env_file"]

SKIP_ENV = "FLASGO_SKIP_DOTENV"
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", '"': '"', "\\": "\\"}


class EnvFileError(ValueError):
    """A line of the file is not ``KEY=value``."""


def parse_env_file(text: str, source: str = ".env") -> dict[str, str]:
    """The variables `text` defines, in order.

    Raises:
        EnvFileError: A line is malformed (the message names `source` and the line).
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, equals, value = line.partition("=")
        key = key.strip()
        if not equals or not _KEY.fullmatch(key):
            raise EnvFileError(f"{source}:{number}: expected KEY=value")
        values[key] = _value(value.strip(), f"{source}:{number}")
    return values


def _value(text: str, where: str) -> str:
    if text[:1] == "'":
        if len(text) < 2 or not text.endswith("'"):
            raise EnvFileError(f"{where}: unterminated single quote")
        return text[1:-1]
    if text[:1] == '"':
        out, index = [], 1
        while index < len(text):
            char = text[index]
            if char == "\\" and index + 1 < len(text):
                out.append(_ESCAPES.get(text[index + 1], "\\" + text[index + 1]))
                index += 2
                continue
            if char == '"':
                if text[index + 1 :].strip() and not text[index + 1 :].lstrip().startswith("#"):
                    raise EnvFileError(f"{where}: text after the closing quote")
                return "".join(out)
            out.append(char)
            index += 1
        raise EnvFileError(f"{where}: unterminated double quote")
    # An unquoted value ends at a " #" comment.
    return text.split(" #", 1)[0].rstrip()


def load_env_file(
    path: Path | None = None, environ: MutableMapping[str, str] | None = None
) -> list[str]:
    """Set the variables of `path` (``./.env``) that `environ` (`os.environ`) lacks.

    Returns:
        The names that were set (empty when the file is missing or skipped).

    Raises:
        EnvFileError: The file is malformed.
    """
    environ = os.environ if environ is None else environ
    if environ.get(SKIP_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return []
    path = Path(".env") if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return []
    added = []
    for key, value in parse_env_file(text, str(path)).items():
        if key not in environ:
            environ[key] = value
            added.append(key)
    return added
