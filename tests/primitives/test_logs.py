"""configure_logging: text and JSON lines for the flasgo logger tree, security fields kept."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from flasgo import Flasgo, FlasgoJSONFormatter, configure_logging
from tests.asgi import call, http_scope


@pytest.fixture(autouse=True)
def restore_flasgo_logger() -> Iterator[None]:
    logger = logging.getLogger("flasgo")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


def refused_host() -> None:
    scope = http_scope("/")
    scope["headers"] = [(b"host", b"evil.example")]
    assert call(Flasgo(), scope).status == 400


def test_json_lines_carry_the_security_fields() -> None:
    stream = io.StringIO()
    configure_logging(format="json", stream=stream)
    refused_host()
    line = json.loads(stream.getvalue().strip().splitlines()[-1])  # after the SECRET_KEY warning
    assert line["logger"] == "flasgo.security"
    assert line["level"] == "warning"
    assert line["event"] == "host-check-failed"
    assert line["request_id"]
    assert line["timestamp"].endswith("+00:00")


def test_text_lines_and_reconfiguring_replaces_the_handler() -> None:
    stream = io.StringIO()
    configure_logging(stream=io.StringIO())
    logger = configure_logging(format="text", level="warning", stream=stream)
    assert len([h for h in logger.handlers if getattr(h, "_flasgo", False)]) == 1
    refused_host()
    lines = stream.getvalue().splitlines()
    assert "WARNING flasgo.security host-check-failed event=host-check-failed" in lines[-1]
    with pytest.raises(ValueError):
        configure_logging(format="xml")  # type: ignore[arg-type]


def test_json_formatter_handles_exceptions_and_extras() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.makeLogRecord(
            {"msg": "failed", "exc_info": sys.exc_info(), "count": 3, "obj": object()}
        )
    payload = json.loads(FlasgoJSONFormatter().format(record))
    assert "RuntimeError: boom" in payload["exception"]
    assert payload["count"] == 3
    assert payload["obj"].startswith("<object")
