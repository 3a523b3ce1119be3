"""``@cached``: keep a handler's response in ``app.cache``.

The key is the method family (GET and HEAD share), host, path, raw query string and the
values of the headers the decorator declares in ``vary`` (sent back in ``Vary``). A response
is stored only when it is a 200 that sets no cookie, for a request without Authorization that
did not read the session or load the user: what depends on who asks is never shared.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

import msgspec

from flasgo.cache.tiered import Cache
from flasgo.concurrency import is_async_callable
from flasgo.context import find_app, find_request
from flasgo.request import Request
from flasgo.response import Response, to_response

__all__ = ["cached"]

F = TypeVar("F", bound=Callable[..., Any])
_Record = tuple[int, list[tuple[str, str]], bytes]
_encode: Final = msgspec.msgpack.Encoder().encode
_decode: Final = msgspec.msgpack.Decoder(_Record).decode
_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})


def cached(
    ttl: float = 60.0, *, vary: Iterable[str] = (), tags: Iterable[str] = ()
) -> Callable[[F], F]:
    """Cache the decorated handler's responses in ``app.cache`` for about `ttl` seconds.

    Put it under the route decorator: ``@app.get(...)`` then ``@cached(30)``.

    Args:
        ttl: Seconds a response is kept (with the cache's jitter).
        vary: Request headers whose values select different responses (e.g.
            ``"Accept-Language"``); listed in the response's ``Vary``.
        tags: Cache tags to store the responses under (``app.cache.invalidate_tag``).
    """
    varied = tuple(sorted({name.lower() for name in vary}))
    tagged = tuple(tags)

    def decorate(func: F) -> F:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = find_request()
            cache = getattr(find_app(), "cache", None) if request is not None else None
            if request is None or not isinstance(cache, Cache) or not _may_use(request):
                return await _call(func, request, args, kwargs)
            key = _key(request, varied)
            raw = await cache.get_raw(key)
            if raw is not None:
                status, headers, body = _decode(raw)
                return Response(body, status, headers)
            response = to_response(await _call(func, request, args, kwargs))
            if varied:
                response.headers["vary"] = ", ".join(varied)
            if _may_store(request, response):
                headers = response.headers
                pairs = [(name, value) for name in headers for value in headers.getlist(name)]
                record = (response.status_code, pairs, response.body)
                await cache.set_raw(key, _encode(record), ttl, tagged)
            return response

        return wrapper  # type: ignore[return-value]  # same parameters, now async

    return decorate


async def _call(func: Callable[..., Any], request: Request | None, args: Any, kwargs: Any) -> Any:
    if is_async_callable(func):
        return await func(*args, **kwargs)
    if request is None:
        return func(*args, **kwargs)
    return await request.app.thread_pool.run(func, *args, **kwargs)


def _may_use(request: Request) -> bool:
    # SECURITY: a request with credentials of its own is answered for that caller only.
    return request.method in _SAFE_METHODS and "authorization" not in request.headers


def _may_store(request: Request, response: Response) -> bool:
    if response.status_code != 200 or response.cookies or "set-cookie" in response.headers:
        return False
    state = request.current_state
    if state is None:
        return True
    # SECURITY: a response built from the session or the user belongs to that visitor.
    session = state.session
    return not (session is not None and session.accessed) and state.user is None


def _key(request: Request, varied: tuple[str, ...]) -> str:
    headers = request.headers
    parts = [request.host, request.path, request.query_string.decode("latin-1")]
    parts += [headers.get(name, "") for name in varied]
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"view:{digest}"
