"""`RedisTaskBackend`: tasks on Redis Streams with consumer groups, for several machines.

Layout under a namespace ``ns`` (one Redis server, not a cluster: the scripts touch keys
they derive themselves):

- ``ns:task:<id>``: a hash, the task (state, payload, attempts, token, result, error...);
- ``ns:q:<queue>:<priority>``: a stream per queue and priority, read by the consumer group
  ``workers``; ``ns:q:<queue>``: a sorted set of the priorities in use (highest first);
- ``ns:delayed``: a sorted set of task ids by the time they may run (countdown, eta,
  retries), moved into their stream when due;
- ``ns:idem:<name>:<key>``: the id stored under an idempotency key; ``ns:dead``: the
  dead-lettered ids by time.

A claimed entry stays in the group's pending list until the task ends; ``ns:leases:<queue>``
holds each running task's lease end (the holder's lease, renewed by its heartbeat). A claim
first takes tasks whose lease ran out, moving their pending entry to itself with ``XCLAIM``,
so the task of a dead worker runs again. Every
change that ends a lease checks the claim's token in one script, so a late worker cannot
overwrite a newer attempt. Durability is Redis's: use ``appendonly yes`` (with
``appendfsync always`` for a task on disk when enqueue returns).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from flasgo.exceptions import ConfigurationError
from flasgo.tasks.backend import LeaseState, NewTask
from flasgo.tasks.model import Claim, TaskBackendError, TaskInfo, decode_result

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisTaskBackend"]

_T = TypeVar("_T")
_GROUP: Final = "workers"

# Shared Lua: the server's clock in seconds, and moving due delayed tasks into their streams.
_PRELUDE: Final = """
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function push(ns, id, queue, priority)
  local stream = ns .. ':q:' .. queue .. ':' .. priority
  redis.pcall('XGROUP', 'CREATE', stream, 'workers', '0', 'MKSTREAM')
  redis.call('ZADD', ns .. ':q:' .. queue, priority, priority)
  redis.call('XADD', stream, '*', 'id', id)
end
local function promote(ns, at)
  local due = redis.call('ZRANGEBYSCORE', ns .. ':delayed', '-inf', at, 'LIMIT', 0, 100)
  for _, id in ipairs(due) do
    redis.call('ZREM', ns .. ':delayed', id)
    local task = ns .. ':task:' .. id
    if redis.call('HGET', task, 'state') == 'queued' then
      local fields = redis.call('HMGET', task, 'queue', 'priority')
      push(ns, id, fields[1], fields[2])
    end
  end
end
"""

# KEYS: none. ARGV: ns, id, name, queue, priority, run_at, payload, idempotency key or ''.
_ENQUEUE: Final = (
    _PRELUDE
    + """
local ns, id = ARGV[1], ARGV[2]
if ARGV[8] ~= '' then
  local idem = ns .. ':idem:' .. ARGV[3] .. ':' .. ARGV[8]
  local existing = redis.call('GET', idem)
  if existing then return {existing, 0} end
  redis.call('SET', idem, id)
end
local at = now()
redis.call('HSET', ns .. ':task:' .. id, 'name', ARGV[3], 'queue', ARGV[4], 'state', 'queued',
  'priority', ARGV[5], 'run_at', ARGV[6], 'payload', ARGV[7], 'attempts', 0,
  'idempotency_key', ARGV[8], 'created', at)
if tonumber(ARGV[6]) > at then
  redis.call('ZADD', ns .. ':delayed', ARGV[6], id)
else
  push(ns, id, ARGV[4], ARGV[5])
end
return {id, 1}
"""
)

# ARGV: ns, queue, consumer, lease seconds, token. Returns {id, name, queue, payload, attempts}
# or nil. Stale entries (idle past the lease) first, then new ones; highest priority first.
_CLAIM: Final = (
    _PRELUDE
    + """
local ns, queue, consumer, lease, token = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local at = now()
promote(ns, at)
local function take(stream, entry)
  local id = entry[2][2]
  local task = ns .. ':task:' .. id
  local state = redis.call('HGET', task, 'state')
  if state ~= 'queued' and state ~= 'running' then
    redis.call('XACK', stream, 'workers', entry[1])
    redis.call('XDEL', stream, entry[1])
    redis.call('ZREM', ns .. ':leases:' .. queue, id)
    return nil
  end
  local attempts = redis.call('HINCRBY', task, 'attempts', 1)
  redis.call('HSET', task, 'state', 'running', 'token', token, 'worker', consumer,
    'stream', stream, 'entry', entry[1], 'lease_until', at + lease)
  redis.call('ZADD', ns .. ':leases:' .. queue, at + lease, id)
  local fields = redis.call('HMGET', task, 'name', 'queue', 'payload')
  return {id, fields[1], fields[2], fields[3], attempts}
end
local leases = ns .. ':leases:' .. queue
local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', at, 'LIMIT', 0, 10)
for _, id in ipairs(expired) do
  local fields = redis.call('HMGET', ns .. ':task:' .. id, 'stream', 'entry')
  local moved = {}
  if fields[1] and fields[2] then
    moved = redis.call('XCLAIM', fields[1], 'workers', consumer, 0, fields[2])
  end
  local entry = moved[1]
  if entry and entry ~= false then
    local claimed = take(fields[1], entry)
    if claimed then return claimed end
  else
    redis.call('ZREM', leases, id)
  end
end
local priorities = redis.call('ZREVRANGE', ns .. ':q:' .. queue, 0, -1)
for _, priority in ipairs(priorities) do
  local stream = ns .. ':q:' .. queue .. ':' .. priority
  for _ = 1, 10 do
    local fresh = redis.call('XREADGROUP', 'GROUP', 'workers', consumer, 'COUNT', 1,
      'STREAMS', stream, '>')
    if not fresh then break end
    local entry = fresh[1][2][1]
    if not entry then break end
    local claimed = take(stream, entry)
    if claimed then return claimed end
  end
end
return nil
"""
)

# ARGV: ns, id, token, lease seconds. Returns 'held', 'lost' or 'cancelled'.
_EXTEND: Final = (
    _PRELUDE
    + """
local task = ARGV[1] .. ':task:' .. ARGV[2]
local fields = redis.call('HMGET', task, 'token', 'state', 'cancel', 'queue')
if fields[1] ~= ARGV[3] or fields[2] ~= 'running' then return 'lost' end
local until_ = now() + tonumber(ARGV[4])
redis.call('HSET', task, 'lease_until', until_)
redis.call('ZADD', ARGV[1] .. ':leases:' .. fields[4], until_, ARGV[2])
if fields[3] == '1' then return 'cancelled' end
return 'held'
"""
)
# ARGV: ns, id, token, action ('done'|'dead'|'cancelled'|'retry'|'release'), result/error,
# run_at (retry). Returns 1, or 0 when the lease was lost.
_FINISH: Final = (
    _PRELUDE
    + """
local ns, id, action = ARGV[1], ARGV[2], ARGV[4]
local task = ns .. ':task:' .. id
local fields = redis.call('HMGET', task, 'token', 'state', 'stream', 'entry', 'queue',
  'priority')
if fields[1] ~= ARGV[3] or fields[2] ~= 'running' then return 0 end
redis.call('XACK', fields[3], 'workers', fields[4])
redis.call('XDEL', fields[3], fields[4])
redis.call('ZREM', ns .. ':leases:' .. fields[5], id)
redis.call('HDEL', task, 'token', 'stream', 'entry', 'lease_until', 'worker')
local at = now()
if action == 'done' then
  redis.call('HSET', task, 'state', 'done', 'result', ARGV[5], 'finished', at)
elseif action == 'retry' then
  redis.call('HSET', task, 'state', 'queued', 'error', ARGV[5], 'run_at', ARGV[6])
  redis.call('ZADD', ns .. ':delayed', ARGV[6], id)
elseif action == 'release' then
  redis.call('HINCRBY', task, 'attempts', -1)
  redis.call('HSET', task, 'state', 'queued')
  push(ns, id, fields[5], fields[6])
else
  redis.call('HSET', task, 'state', action, 'error', ARGV[5], 'finished', at)
  if action == 'dead' then redis.call('ZADD', ns .. ':dead', at, id) end
end
return 1
"""
)

# ARGV: ns, id. Returns 1 when cancelled or flagged, 0 when unknown or final.
_CANCEL: Final = """
local task = ARGV[1] .. ':task:' .. ARGV[2]
local state = redis.call('HGET', task, 'state')
if state == 'queued' then
  redis.call('HSET', task, 'state', 'cancelled', 'error', 'cancelled')
  redis.call('ZREM', ARGV[1] .. ':delayed', ARGV[2])
  return 1
elseif state == 'running' then
  redis.call('HSET', task, 'cancel', '1')
  return 1
end
return 0
"""

_INFO_FIELDS: Final = (
    "name",
    "queue",
    "state",
    "attempts",
    "priority",
    "run_at",
    "result",
    "error",
    "idempotency_key",
)


class RedisTaskBackend:
    """A `TaskBackend` on Redis Streams (the ``flasgo[redis]`` extra).

    Args:
        client: A ``redis.asyncio.Redis`` (bytes responses).
        namespace: The prefix of every key.
        timeout: Seconds each call may take before `TaskBackendError`.
    """

    def __init__(
        self, client: Redis, *, namespace: str = "flasgo:tasks", timeout: float = 5.0
    ) -> None:
        redis = _import_redis()
        self._client = client
        self.namespace = namespace
        self.timeout = timeout
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError, TimeoutError)
        self._enqueue = client.register_script(_ENQUEUE)
        self._claim = client.register_script(_CLAIM)
        self._extend = client.register_script(_EXTEND)
        self._finish_script = client.register_script(_FINISH)
        self._cancel = client.register_script(_CANCEL)
        self._owns_client = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisTaskBackend:
        """Connect to `url`; the backend owns (and closes) the client.

        Raises:
            ConfigurationError: redis-py is missing or the URL is invalid.
        """
        redis = _import_redis()
        timeout = options.get("timeout", 5.0)
        try:
            client = redis.asyncio.Redis.from_url(
                url, decode_responses=False, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        except ValueError:
            # SECURITY: the URL may hold a password; it is never echoed.
            raise ConfigurationError("The Redis URL of the task backend is invalid") from None
        backend = cls(client, **options)
        backend._owns_client = True
        return backend

    def __repr__(self) -> str:
        return f"RedisTaskBackend(namespace={self.namespace!r})"

    async def _run(self, operation: str, call: Awaitable[_T]) -> _T:
        try:
            async with asyncio.timeout(self.timeout):
                return await call
        except self._errors as exc:
            raise TaskBackendError(
                f"The Redis task store failed ({operation}: {type(exc).__name__}: {exc})"
            ) from exc

    async def open(self) -> None:
        """Check that Redis answers (so a wrong URL fails startup)."""
        await self._run("PING", self._client.ping())

    async def close(self) -> None:
        """Close the client if `from_url` made it."""
        if self._owns_client:
            await self._client.aclose()

    async def enqueue(self, task: NewTask) -> tuple[str, bool]:
        """Store `task` (a script: idempotency key, hash, then stream or delayed set)."""
        args: list[bytes | str | int] = [
            self.namespace,
            secrets.token_hex(16),
            task.name,
            task.queue,
            task.priority,
            repr(task.run_at),
            task.payload,
            task.idempotency_key or "",
        ]
        found = await self._run("enqueue", self._enqueue(args=args))
        return _text(found[0]), bool(found[1])

    async def claim(self, queue: str, *, worker: str, lease: float) -> Claim | None:
        """Take the next task of `queue` (a stale pending entry, or a new one)."""
        token = secrets.token_hex(8)
        args = [self.namespace, queue, worker, repr(lease), token]
        row = await self._run("claim", self._claim(args=args))
        if row is None:
            return None
        return Claim(_text(row[0]), _text(row[1]), _text(row[2]), bytes(row[3]), int(row[4]), token)

    async def extend(self, claim: Claim, lease: float) -> LeaseState:
        """Renew the lease (reset the pending entry's idle time)."""
        args = [self.namespace, claim.id, claim.token, repr(lease)]
        state = _text(await self._run("extend", self._extend(args=args)))
        if state == "held":
            return "held"
        return "cancelled" if state == "cancelled" else "lost"

    async def _finish(
        self, claim: Claim, action: str, value: bytes | str = b"", at: float = 0.0
    ) -> bool:
        args: list[bytes | str] = [self.namespace, claim.id, claim.token, action, value, repr(at)]
        return bool(await self._run(action, self._finish_script(args=args)))

    async def complete(self, claim: Claim, result: bytes) -> bool:
        """Mark the task done with its result."""
        return await self._finish(claim, "done", result)

    async def retry(self, claim: Claim, error: str, run_at: float) -> bool:
        """Queue the task again for `run_at`."""
        return await self._finish(claim, "retry", error, run_at)

    async def bury(self, claim: Claim, error: str, state: Literal["dead", "cancelled"]) -> bool:
        """End the task as dead-lettered or cancelled."""
        return await self._finish(claim, state, error)

    async def release(self, claim: Claim) -> bool:
        """Hand the task back to its stream, this attempt not counted."""
        return await self._finish(claim, "release")

    async def info(self, task_id: str) -> TaskInfo | None:
        """The task's current state, or None for an unknown id."""
        key = f"{self.namespace}:task:{task_id}"
        values = await self._run("HMGET", self._client.hmget(key, list(_INFO_FIELDS)))
        return None if values[0] is None else _info(task_id, values)

    async def cancel(self, task_id: str) -> bool:
        """Cancel a queued task, or flag a running one for its worker's next heartbeat."""
        return bool(await self._run("cancel", self._cancel(args=[self.namespace, task_id])))

    async def in_state(self, state: str, *, limit: int = 100) -> list[TaskInfo]:
        """Tasks in `state` (dead letters from their index; others by a key scan)."""
        if state == "dead":
            ids = [
                _text(i)
                for i in await self._run(
                    "ZRANGE", self._client.zrange(f"{self.namespace}:dead", 0, limit - 1)
                )
            ]
        else:
            ids = []
            prefix = f"{self.namespace}:task:"
            async for key in self._client.scan_iter(match=prefix + "*", count=500):
                ids.append(_text(key)[len(prefix) :])
        found = [info for info in [await self.info(i) for i in ids] if info is not None]
        return [info for info in found if info.state == state][:limit]


def _import_redis() -> Any:
    try:
        import redis.asyncio
    except ImportError:
        raise ConfigurationError(
            "The Redis task backend needs redis-py, which is not installed; "
            "pip install 'flasgo[redis]'"
        ) from None
    return redis


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _info(task_id: str, values: list[Any]) -> TaskInfo:
    name, queue, state, attempts, priority, run_at, result, error, key = values
    return TaskInfo(
        id=task_id,
        name=_text(name),
        queue=_text(queue),
        state=_text(state),  # type: ignore[arg-type]  # written by our scripts only
        attempts=int(attempts),
        priority=int(priority),
        run_at=float(run_at),
        result=decode_result(None if result is None else bytes(result)),
        error=None if error is None else _text(error),
        idempotency_key=_text(key) or None if key is not None else None,
    )
