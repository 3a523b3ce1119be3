"""Real `Request` and `Response` objects for driving session backends without the pipeline."""

from __future__ import annotations

from typing import Any

from flasgo import Flasgo
from flasgo.cookies import parse_cookie_header
from flasgo.request import Request
from flasgo.response import Response
from flasgo.settings import Settings
from tests.asgi import http_scope

SECRET = "k" * 40
OLD_SECRET = "o" * 40


def settings(**overrides: Any) -> Settings:
    return Settings(SECRET_KEY=SECRET, **overrides)


_APP = Flasgo(settings())


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def request(*cookie_headers: str) -> Request:
    """A GET request carrying each argument as one ``Cookie`` header."""
    headers = [(b"cookie", value.encode("latin-1")) for value in cookie_headers]
    return Request(http_scope("/", headers=headers), _receive, _APP)


def cookie_header(response: Response, name: str = "flasgo-session") -> str | None:
    """The one ``Set-Cookie`` for `name` in `response` (asserting there is at most one)."""
    found = [c for c in response.cookies if c.startswith(f"{name}=")]
    assert len(found) <= 1, found
    return found[0] if found else None


def cookie_value(response: Response, name: str = "flasgo-session") -> str:
    """The value the response sets for `name`."""
    header = cookie_header(response, name)
    assert header is not None
    return parse_cookie_header(header.partition(";")[0])[name]


def follow(response: Response, name: str = "flasgo-session") -> Request:
    """The next request of a browser that received `response`."""
    return request(f"{name}={cookie_value(response, name)}")
