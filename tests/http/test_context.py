"""The context-local proxies behind request, g and current_app."""

from __future__ import annotations

import pytest

from flasgo import Flasgo, current_app, g, request
from flasgo.context import AppGlobals, current_request


def test_g_behaves_like_a_namespace() -> None:
    app = Flasgo()

    @app.get("/")
    def index() -> dict[str, object]:
        g.a = 1
        g.setdefault("b", 2)
        assert "a" in g
        assert g.get("missing", "d") == "d"
        with pytest.raises(AttributeError):
            _ = g.missing
        popped = g.pop("b")
        names = sorted(g)
        del g.a
        return {"popped": popped, "names": names, "left": list(g), "bool": bool(g) is True}

    assert app.test_client().get("/").json() == {
        "popped": 2,
        "names": ["a"],
        "left": [],
        "bool": True,
    }


def test_proxies_forward_items_len_eq_and_repr() -> None:
    app = Flasgo()

    @app.get("/")
    def index() -> dict[str, object]:
        args = request.args
        return {
            "same": request == request._get_current_object(),  # type: ignore[attr-defined]
            "hash": hash(request) == hash(request._get_current_object()),  # type: ignore[attr-defined]
            "repr": repr(current_app).startswith("<flasgo.app.Flasgo"),
            "args": len(args),
        }

    assert app.test_client().get("/?x=1").json() == {
        "same": True,
        "hash": True,
        "repr": True,
        "args": 1,
    }


def test_proxies_outside_a_request() -> None:
    assert not bool(request)
    assert repr(request) == "<unbound request>"
    with pytest.raises(RuntimeError):
        g.x = 1
    with pytest.raises(RuntimeError):
        _ = current_app.name
    assert "flasgo.g" in repr(AppGlobals())


@pytest.mark.parametrize("route", ["/plain", "/hooked"])
def test_a_context_copied_inside_send_cannot_reach_the_request(route: str) -> None:
    # The server arms its keep-alive timer inside the last send(); the timer copies the
    # context. The request must not stay reachable through that copy (it would age into
    # the old GC generations and make full collections frequent).
    import asyncio
    import contextvars
    import gc
    import weakref

    app = Flasgo({"ALLOWED_HOSTS": ["localhost"]})
    refs: list[weakref.ref[object]] = []

    @app.get("/plain")
    def plain() -> str:
        refs.append(weakref.ref(current_request()))
        return "ok"

    @app.get("/hooked")
    def hooked() -> dict[str, str]:
        refs.append(weakref.ref(current_request()))
        g.note = "kept on the request"
        return {"ok": "yes"}

    @app.after_request
    def after(response: object) -> object:
        return response

    copies: list[contextvars.Context] = []

    async def drive() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": route,
            "raw_path": route.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"localhost")],
            "client": ("127.0.0.1", 1),
            "server": ("localhost", 80),
        }

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.body":
                copies.append(contextvars.copy_context())

        await app(scope, receive, send)

    asyncio.run(drive())
    gc.collect()
    assert len(refs) == 1
    assert copies
    assert refs[0]() is None
    with pytest.raises(RuntimeError, match="Working outside of a request"):
        copies[0].run(lambda: request.path)
