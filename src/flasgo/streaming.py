"""Server-Sent Events and NDJSON streams that stop when the client leaves.

`EventSourceResponse` sends `ServerSentEvent`s (``text/event-stream``: event, id, retry,
multi-line data, comments, heartbeats) and `NDJSONResponse` one JSON value per line. Both
watch for the client's ``http.disconnect`` while producing: when it comes, the producer is
cancelled and the generator closed, so its ``finally`` runs at once instead of on the next
failed write. Neither is buffered by proxies (``X-Accel-Buffering: no``) and neither is
cached; a HEAD request gets the headers and no body, and never starts the generator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from flasgo.concurrency import iterate_in_threadpool
from flasgo.context import find_app, find_request
from flasgo.jsonenc import encode_json
from flasgo.response import Send, StreamingResponse

__all__ = ["EventSourceResponse", "NDJSONResponse", "ServerSentEvent"]

log = logging.getLogger("flasgo.access")
error_log = logging.getLogger("flasgo.error")

Items: TypeAlias = AsyncIterable[Any] | Iterable[Any]
# An iterable of items, or a callable given the client's Last-Event-ID that returns one.
EventSource: TypeAlias = Items | Callable[[str | None], Items]

_PING = b": ping\n\n"
_STREAM_HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


def _single_line(name: str, value: str | None) -> None:
    if value is not None and ("\n" in value or "\r" in value or "\0" in value):
        raise ValueError(f"A server-sent event's {name} must be one line without NUL.")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event of a ``text/event-stream``.

    Attributes:
        data: A str (sent as is, one ``data:`` line per line), bytes (UTF-8), None (no data)
            or any other value, sent as JSON.
        event: The event type (the browser's ``addEventListener`` name).
        id: The event id; the browser sends the last one back as ``Last-Event-ID``.
        retry: The reconnection delay, in milliseconds.
        comment: A comment (``: text``), ignored by browsers; keeps idle proxies open.

    Raises:
        ValueError: `event`, `id` or `comment` span lines, or `retry` is negative.
    """

    data: Any = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        # SECURITY: a newline in a field would let its value inject fields of its own.
        _single_line("event", self.event)
        _single_line("id", self.id)
        _single_line("comment", self.comment)
        retry: object = self.retry
        if retry is not None and (
            not isinstance(retry, int) or isinstance(retry, bool) or retry < 0
        ):
            raise ValueError("A server-sent event's retry must be a non-negative int (ms).")

    def encode(self) -> bytes:
        """The event in the wire format, ending with its blank line."""
        lines: list[str] = []
        if self.comment is not None:
            lines.append(f": {self.comment}")
        if self.event is not None:
            lines.append(f"event: {self.event}")
        if self.id is not None:
            lines.append(f"id: {self.id}")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        data = self.data
        if data is not None:
            if isinstance(data, bytes | bytearray):
                text = bytes(data).decode()
            elif isinstance(data, str):
                text = data
            else:
                text = encode_json(data).decode()
            # NOTE: CR LF, CR and LF all end a line in the event-stream grammar.
            lines.extend(
                f"data: {line}"
                for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            )
        return ("\n".join(lines) + "\n\n").encode()


class _WatchedStream(StreamingResponse):
    """A stream of encoded items, cancelled when the client disconnects."""

    __slots__ = ("heartbeat",)

    def __init__(
        self,
        content: EventSource,
        status_code: int,
        headers: Mapping[str, str] | None,
        content_type: str,
        heartbeat: float | None,
    ) -> None:
        if heartbeat is not None and heartbeat <= 0:
            raise ValueError("heartbeat must be a positive number of seconds, or None.")
        super().__init__(content, status_code, {**_STREAM_HEADERS, **(headers or {})}, content_type)  # type: ignore[arg-type]  # NOTE: a callable source is resolved in send_body
        self.heartbeat = heartbeat

    def encode(self, item: Any) -> bytes:  # pragma: no cover - every subclass defines it
        """One item as bytes on the wire."""
        raise NotImplementedError

    async def send_body(self, send: Send, *, is_head: bool) -> None:
        if is_head:
            await send({"type": "http.response.body", "body": b""})
            return
        request = find_request()
        content: Any = self.content
        if callable(content) and not isinstance(content, AsyncIterable | Iterable):
            content = content(request.headers.get("last-event-id") if request else None)
        if not isinstance(content, AsyncIterable):
            content = iterate_in_threadpool(find_app().thread_pool, content)
        producer = asyncio.ensure_future(self._produce(content, send))
        if request is None:
            await producer
            return
        watcher = asyncio.ensure_future(request.wait_disconnected())
        try:
            done, _ = await asyncio.wait((producer, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            # NOTE: also on our own cancellation (the server gave up): nothing outlives us.
            for task in (producer, watcher):
                task.cancel()
            await asyncio.wait((producer, watcher))
        if watcher in done:
            log.info("http-client-disconnected path=%s", request.path)
        elif not producer.cancelled() and (error := producer.exception()) is not None:
            raise error

    async def _produce(self, content: AsyncIterable[Any], send: Send) -> None:
        iterator = aiter(content)
        try:
            while True:
                try:
                    item = await self._next(iterator, send)
                except StopAsyncIteration:
                    break
                body = self.encode(item)
                await send({"type": "http.response.body", "body": body, "more_body": True})
        except Exception:
            # NOTE: the status line is sent; end the body so the client sees the end (an
            # EventSource reconnects) rather than a hung or broken connection.
            error_log.exception("stream-failed")
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()
        await send({"type": "http.response.body", "body": b""})

    async def _next(self, iterator: AsyncIterator[Any], send: Send) -> Any:
        heartbeat = self.heartbeat
        if heartbeat is None:
            return await anext(iterator)
        # PERF: a task per item only when heartbeats are on; waiting on it (rather than
        # wait_for) leaves the generator running while a ping goes out.
        step = asyncio.ensure_future(anext(iterator))
        try:
            while not (await asyncio.wait((step,), timeout=heartbeat))[0]:
                await send({"type": "http.response.body", "body": _PING, "more_body": True})
        finally:
            if not step.done():
                step.cancel()
                # NOTE: let the generator finish unwinding before anyone closes it.
                await asyncio.wait((step,))
        return step.result()


class EventSourceResponse(_WatchedStream):
    """A ``text/event-stream`` of `ServerSentEvent`s (other items become their data).

    Args:
        events: An (async) iterable of events, or a callable that gets the client's
            ``Last-Event-ID`` (None on the first connection) and returns one.
        status_code: The status.
        headers: Extra headers.
        heartbeat: Seconds without an event after which a ``: ping`` comment is sent (keeps
            proxies from closing an idle stream); None sends none.

    Raises:
        ValueError: `heartbeat` is not positive.
    """

    __slots__ = ()

    def __init__(
        self,
        events: EventSource,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        heartbeat: float | None = 15.0,
    ) -> None:
        super().__init__(events, status_code, headers, "text/event-stream", heartbeat)

    def encode(self, item: Any) -> bytes:
        """`item` as one event on the wire."""
        event = item if isinstance(item, ServerSentEvent) else ServerSentEvent(item)
        return event.encode()


class NDJSONResponse(_WatchedStream):
    """Newline-delimited JSON (``application/x-ndjson``): one JSON value per line.

    Args:
        items: An (async) iterable of JSON-encodable values.
        status_code: The status.
        headers: Extra headers.
    """

    __slots__ = ()

    def __init__(
        self,
        items: Items,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(items, status_code, headers, "application/x-ndjson", None)

    def encode(self, item: Any) -> bytes:
        """`item` as one JSON line."""
        return encode_json(item) + b"\n"
