"""`Endpoint`: one registered route target, immutable from registration on.

The app makes an `Endpoint` when a route is registered (its handler signature is compiled
then, so a bad handler fails at import time); the pipeline compiles each one into its runtime
steps when the app starts serving (`flasgo.pipeline`). OpenAPI, ``url_map`` and the auth and
rate-limit compilers read endpoints; nothing changes one after it is made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flasgo.handlers import HandlerPlan

__all__ = ["Endpoint"]


@dataclass(frozen=True, slots=True, eq=False)
class Endpoint:
    """A registered route target.

    Attributes:
        name: The endpoint name (``blueprint.func``), used by `url_for`.
        plan: The compiled handler signature.
        scopes: The app, then each enclosing blueprint (outermost first).
        func: The handler as registered.
        options: The route's extra options (``response_model=``, ``openapi_extra=`` ...).
        rule: The full rule, prefixes applied.
        methods: The HTTP methods it answers (``("GET",)`` for a WebSocket route).
        websocket: Whether it is a WebSocket route.
        csrf_exempt: Registered with ``csrf_exempt=True`` (a blueprint registration).
    """

    name: str
    plan: HandlerPlan
    scopes: tuple[Any, ...]
    func: Callable[..., Any]
    options: dict[str, Any]
    rule: str = ""
    methods: tuple[str, ...] = ()
    websocket: bool = False
    csrf_exempt: bool = False
