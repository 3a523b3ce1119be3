"""The context-local proxies behind request, g and current_app."""

from __future__ import annotations

import pytest

from flasgo import Flasgo, current_app, g, request
from flasgo.context import AppGlobals


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
