"""`Channels`: rooms of WebSocket connections and messages published to them.

A connection joins rooms; `publish` sends a message to every member of a room on every
worker (through the broker: in memory, or Redis pub/sub), `broadcast` to every connection.
Each joined connection has a bounded send queue drained by its own writer task: a message
for a client whose queue is full, or whose send does not finish within the send timeout,
drops that client with close 1013 (try again later). So a slow client never slows a room
and never grows memory; publishing never waits on a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from flasgo.jsonenc import encode_json
from flasgo.websocket import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from flasgo.settings import Settings

__all__ = ["Broker", "ChannelStats", "Channels", "MemoryBroker"]

log = logging.getLogger("flasgo.websocket")

# The room every connection is in: what `broadcast` publishes to.
ALL = ""
_MAX_ROOM = 200
_TEXT, _BINARY = b"t", b"b"

Deliver = Callable[[str, bytes], None]


class Broker(Protocol):
    """Carries published messages to the `Channels` of every worker (this one included)."""

    async def start(self, deliver: Deliver) -> None:
        """Begin handing each published ``(room, payload)`` to `deliver`."""

    async def publish(self, room: str, payload: bytes) -> None:
        """Publish `payload` to `room` on every worker."""

    async def close(self) -> None:
        """Stop and release the connection, if any."""


class MemoryBroker:
    """The in-process broker: one worker, no I/O (the default without ``REDIS_URL``)."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        """Deliver messages published from now on."""
        self._deliver = deliver

    async def publish(self, room: str, payload: bytes) -> None:
        """Hand `payload` to this worker's members of `room`."""
        if self._deliver is not None:
            self._deliver(room, payload)

    async def close(self) -> None:
        """Forget the receiver."""
        self._deliver = None


@dataclass(frozen=True, slots=True)
class ChannelStats:
    """What this worker holds (tests check that it returns to zero).

    Attributes:
        connections: Joined connections.
        rooms: Rooms with at least one member.
        queued: Messages waiting in send queues.
        closing: Dropped clients whose close is still being sent.
    """

    connections: int
    rooms: int
    queued: int
    closing: int


class _Member:
    """One joined connection: its rooms, its bounded queue and its writer task."""

    __slots__ = ("queue", "rooms", "websocket", "writer")

    def __init__(self, websocket: WebSocket, size: int) -> None:
        self.websocket = websocket
        self.rooms: set[str] = set()
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(size)
        self.writer: asyncio.Task[None] | None = None


def _encode(message: Any) -> bytes:
    if isinstance(message, str):
        return _TEXT + message.encode()
    if isinstance(message, bytes | bytearray | memoryview):
        return _BINARY + bytes(message)
    return _TEXT + encode_json(message)


def _check_room(room: object) -> None:
    if not isinstance(room, str) or not room or len(room) > _MAX_ROOM:
        raise ValueError(f"A room name must be a non-empty str of at most {_MAX_ROOM} characters.")


class Channels:
    """Rooms of WebSocket connections, shared by every worker through the broker.

    Args:
        broker: Where messages go; `MemoryBroker` when None.
        queue_size: Messages one connection may have waiting before it is dropped.
        send_timeout: Seconds one send may take before the connection is dropped.
    """

    def __init__(
        self, broker: Broker | None = None, *, queue_size: int = 64, send_timeout: float = 5.0
    ) -> None:
        self._broker: Broker = broker if broker is not None else MemoryBroker()
        self._queue_size = queue_size
        self._send_timeout = send_timeout
        self._rooms: dict[str, set[_Member]] = {}
        self._members: dict[WebSocket, _Member] = {}
        self._closing: dict[WebSocket, asyncio.Task[None]] = {}
        self._started = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Channels:
        """Channels over Redis pub/sub when ``REDIS_URL`` is set, else in memory.

        Raises:
            ConfigurationError: ``REDIS_URL`` is set and redis-py is not installed.
        """
        broker: Broker | None = None
        if settings.REDIS_URL:
            from flasgo.realtime.redis import RedisBroker

            broker = RedisBroker.from_url(settings.REDIS_URL)
        return cls(
            broker,
            queue_size=settings.WEBSOCKET_SEND_QUEUE_SIZE,
            send_timeout=settings.WEBSOCKET_SEND_TIMEOUT,
        )

    # -- membership ----------------------------------------------------------------------------

    async def join(self, room: str, websocket: WebSocket) -> None:
        """Add an accepted `websocket` to `room` (joining twice is harmless).

        Raises:
            ValueError: `room` is empty or too long.
            StoreUnavailable: The broker could not be reached.
        """
        _check_room(room)
        await self._start()
        member = self._members.get(websocket)
        if member is None:
            member = self._members[websocket] = _Member(websocket, self._queue_size)
            member.rooms.add(ALL)
            self._rooms.setdefault(ALL, set()).add(member)
            member.writer = asyncio.create_task(self._write(member))
        member.rooms.add(room)
        self._rooms.setdefault(room, set()).add(member)

    async def leave(self, room: str, websocket: WebSocket) -> None:
        """Take `websocket` out of `room`; out of its last room, it is forgotten."""
        member = self._members.get(websocket)
        if member is None:
            return
        self._remove(member, room)
        if member.rooms == {ALL}:
            self.forget(websocket)

    def forget(self, websocket: WebSocket) -> None:
        """Take `websocket` out of every room and stop its writer (messages queued are lost)."""
        member = self._members.pop(websocket, None)
        if member is None:
            return
        for room in tuple(member.rooms):
            self._remove(member, room)
        writer = member.writer
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()

    @contextlib.asynccontextmanager
    async def subscribe(self, websocket: WebSocket, *rooms: str) -> AsyncIterator[None]:
        """Be in `rooms` for the block: ``async with app.channels.subscribe(ws, "lobby"):``."""
        try:
            for room in rooms:
                await self.join(room, websocket)
            yield
        finally:
            self.forget(websocket)
            closing = self._closing.get(websocket)
            if closing is not None:  # dropped: the handler ends after its close was sent
                await asyncio.wait((closing,))

    def presence(self, room: str) -> int:
        """Connections in `room` on this worker."""
        return len(self._rooms.get(room, ()))

    def stats(self) -> ChannelStats:
        """Connections, rooms and queued messages on this worker."""
        return ChannelStats(
            len(self._members),
            len([room for room in self._rooms if room != ALL]),
            sum(member.queue.qsize() for member in self._members.values()),
            len(self._closing),
        )

    # -- messages ------------------------------------------------------------------------------

    async def publish(self, room: str, message: Any) -> None:
        """Send `message` to every member of `room` on every worker.

        A str goes as a text message, bytes as a binary one, anything else as JSON text.

        Raises:
            ValueError: `room` is empty or too long.
            StoreUnavailable: The broker could not be reached (the message is lost).
        """
        _check_room(room)
        await self._start()
        await self._broker.publish(room, _encode(message))

    async def broadcast(self, message: Any) -> None:
        """Send `message` to every joined connection on every worker.

        Raises:
            StoreUnavailable: The broker could not be reached (the message is lost).
        """
        await self._start()
        await self._broker.publish(ALL, _encode(message))

    async def close(self) -> None:
        """Forget every connection, wait for pending closes, and close the broker."""
        for websocket in tuple(self._members):
            self.forget(websocket)
        if self._closing:
            await asyncio.wait(tuple(self._closing.values()))
        await self._broker.close()
        self._started = False

    # -- delivery ------------------------------------------------------------------------------

    async def _start(self) -> None:
        if not self._started:
            await self._broker.start(self._deliver)
            self._started = True

    def _deliver(self, room: str, payload: bytes) -> None:
        members = self._rooms.get(room)
        if not members:
            return
        for member in tuple(members):
            try:
                member.queue.put_nowait(payload)
            except asyncio.QueueFull:
                self._drop(member, "send queue full")

    def _remove(self, member: _Member, room: str) -> None:
        member.rooms.discard(room)
        members = self._rooms.get(room)
        if members is not None:
            members.discard(member)
            if not members:
                del self._rooms[room]

    async def _write(self, member: _Member) -> None:
        websocket, queue = member.websocket, member.queue
        while True:
            payload = await queue.get()
            kind, data = payload[:1], payload[1:]
            try:
                async with asyncio.timeout(self._send_timeout):
                    if kind == _TEXT:
                        await websocket.send_text(data.decode())
                    else:
                        await websocket.send_bytes(data)
            except TimeoutError:
                self._drop(member, "send timed out")
                return
            except (WebSocketDisconnect, OSError, RuntimeError):
                self.forget(websocket)  # closed meanwhile: nothing to send it to
                return

    def _drop(self, member: _Member, why: str) -> None:
        """Drop a slow client: out of every room now, close 1013 in the background."""
        websocket = member.websocket
        if self._members.get(websocket) is not member:
            return
        log.warning("websocket-slow-client-dropped reason=%s path=%s", why, websocket.path)
        self.forget(websocket)
        task = asyncio.create_task(self._close(websocket))
        self._closing[websocket] = task
        task.add_done_callback(lambda _: self._closing.pop(websocket, None))

    async def _close(self, websocket: WebSocket) -> None:
        # NOTE: bounded too: a client that reads nothing may not take the close frame either.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._send_timeout):
                await websocket.close(1013, "Too slow: messages were dropped")
