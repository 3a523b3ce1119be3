"""The benchmark's endpoints: what every app serves, the requests sent and the answers expected."""

from __future__ import annotations

from dataclasses import dataclass

HELLO = "Hello, World!"
ROUTE_COUNT = 50
"""Parametrised routes `/r{i}/items/<int:item_id>`, i = 0..ROUTE_COUNT-1."""
VAR_IDS = 4096
"""Distinct ids cycled by `route49_var` (a power of two: the in-process loop masks the index)."""
ECHO_BODY = b'{"name":"widget","price":9.99,"tags":["a","b"]}'
ECHO_VALUE = {"name": "widget", "price": 9.99, "tags": ["a", "b"]}
HOST = "localhost"
"""Host header sent in-process; the Flasgo apps list it (and 127.0.0.1) in ALLOWED_HOSTS."""


@dataclass(frozen=True, slots=True)
class Probe:
    """One concrete request of an endpoint and the answer it must get."""

    path: str
    query: str
    expected: object
    """The exact text for text endpoints, else the decoded JSON value."""

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A benchmarked endpoint: the same in every framework."""

    name: str
    method: str
    probes: tuple[Probe, ...]
    body: bytes = b""
    is_text: bool = False

    @property
    def content_type(self) -> str:
        return "text/plain" if self.is_text else "application/json"


def _item(i: int, item_id: int) -> Probe:
    return Probe(f"/r{i}/items/{item_id}", "", {"route": i, "item_id": item_id})


LAST = ROUTE_COUNT - 1

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("plaintext", "GET", (Probe("/plaintext", "", HELLO),), is_text=True),
    Endpoint("json", "GET", (Probe("/json", "", {"message": HELLO}),)),
    Endpoint("users", "GET", (Probe("/users/42", "", {"id": 42}),)),
    Endpoint("route49", "GET", (_item(LAST, 7),)),
    Endpoint("query", "GET", (Probe("/query", "name=x&page=2", {"name": "x", "page": 2}),)),
    Endpoint("echo", "POST", (Probe("/echo", "", ECHO_VALUE),), body=ECHO_BODY),
    Endpoint("route49_var", "GET", tuple(_item(LAST, item_id) for item_id in range(VAR_IDS))),
)

ENDPOINT_NAMES: tuple[str, ...] = tuple(endpoint.name for endpoint in ENDPOINTS)
