"""Connections and command plans shared by the Redis saver, store and lease.

A *plan* is a generator that yields `Batch` es of Redis commands and gets each
batch's replies back; `run_plan` and `arun_plan` drive the same plan on a sync
or an async client, so every operation is written once for both. A batch is
sent as one pipeline (one round trip): plain, as ``MULTI``/``EXEC`` when
``atomic``, or, after a batch with ``watch`` keys, as an optimistic
transaction that restarts the plan when a watched key changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from memorygraph.checkpointers.urls import redact_url, scrub_secrets
from memorygraph.errors import BackendError

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = [
    "DEFAULT_PREFIX",
    "Batch",
    "Plan",
    "RedisTarget",
    "arun_plan",
    "connect",
    "connect_async",
    "key_part",
    "pack",
    "parse_redis_url",
    "redis_error",
    "run_plan",
    "unpack",
]

DEFAULT_PREFIX = "memorygraph"
"""The first part of every key memorygraph writes, unless the URL sets ``?prefix=``."""

CONNECT_TIMEOUT_SECONDS = 5
_REDIS_HINT = 'install the Redis extra: pip install "memorygraph[redis]"'
_REDIS_FIX = (
    "check that the server is running and that the URL's host, port, password and db are right"
)
_RETRIES = 50

T = TypeVar("T")


@dataclass(frozen=True)
class Batch:
    """Commands sent together in one round trip.

    Attributes:
        commands: Each a tuple of the command name and its arguments.
        atomic: Send them inside ``MULTI``/``EXEC``; after a ``watch`` batch,
            this is the batch that commits (or restarts the plan).
        watch: Keys to ``WATCH`` first; the commands then run at once, on the
            watching connection, until the next atomic batch.
    """

    commands: Sequence[tuple[Any, ...]]
    atomic: bool = False
    watch: tuple[str, ...] = ()


Plan = Generator[Batch, list[Any], T]


@dataclass(frozen=True)
class RedisTarget:
    """A Redis URL split into what redis-py reads and memorygraph's own key prefix."""

    url: str
    prefix: str


def parse_redis_url(url: str) -> RedisTarget:
    """Take memorygraph's own ``prefix`` query parameter out of a Redis URL.

    Raises:
        BackendError: The prefix is blank.
    """
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    prefix = DEFAULT_PREFIX
    kept: list[tuple[str, str]] = []
    for key, value in pairs:
        if key == "prefix":
            prefix = value
        else:
            kept.append((key, value))
    if not prefix.strip():
        raise BackendError(f"Redis URL {redact_url(url)!r} has a blank prefix=; leave it out")
    query = urlencode(kept)
    return RedisTarget(urlunsplit((*parts[:3], query, parts.fragment)), prefix)


def redis_error(url: str, action: str, exc: BaseException) -> NoReturn:
    """Raise a `BackendError` for a Redis failure, with the URL's password redacted."""
    detail = scrub_secrets(str(exc).strip(), url)
    error = BackendError(f"cannot {action} Redis at {redact_url(url)}: {detail}; {_REDIS_FIX}")
    if detail != str(exc).strip():
        raise error from None
    raise error from exc


def _require_redis() -> None:
    try:
        import redis  # noqa: F401
    except ImportError as exc:
        raise BackendError(f"Redis URLs need the redis client; {_REDIS_HINT}") from exc


def connect(url: str, *, ping: bool = True) -> redis.Redis:
    """Open a sync client on a Redis URL and check that the server answers.

    With ``ping=False`` nothing is sent until the client is first used.

    Raises:
        BackendError: The client is not installed or the server does not answer.
    """
    _require_redis()
    import redis

    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            health_check_interval=30,
        )
        if ping:
            client.ping()
    except (redis.RedisError, ValueError) as exc:
        redis_error(url, "connect to", exc)
    return client


async def connect_async(url: str) -> redis.asyncio.Redis:
    """Open an async client on a Redis URL and check that the server answers.

    Raises:
        BackendError: The client is not installed or the server does not answer.
    """
    _require_redis()
    import redis
    import redis.asyncio

    try:
        client = redis.asyncio.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            health_check_interval=30,
        )
        await client.ping()
    except (redis.RedisError, ValueError) as exc:
        redis_error(url, "connect to", exc)
    return client


def key_part(text: str) -> str:
    """Quote one component of a key, so ``:`` and glob characters cannot cross parts."""
    return quote(text, safe="")


def pack(*parts: str | bytes) -> bytes:
    """Join byte strings with length prefixes (any byte may appear in a part)."""
    out = bytearray()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out += len(data).to_bytes(4, "big")
        out += data
    return bytes(out)


def unpack(data: bytes) -> list[bytes]:
    """Split what `pack` joined."""
    parts: list[bytes] = []
    at = 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        parts.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return parts


def chunks(items: Sequence[T], size: int = 500) -> Iterable[Sequence[T]]:
    """Split ``items`` so no command carries too many arguments."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _exhausted(name: str) -> BackendError:
    return BackendError(
        f"Redis {name}: the keys it reads kept changing under it ({_RETRIES} tries); "
        "another client is writing the same thread or namespace without pause"
    )


def run_plan(client: redis.Redis, make_plan: Callable[[], Plan[T]], name: str = "write") -> T:
    """Run a plan on a sync client; restart it when a watched key changed.

    Raises:
        BackendError: The watched keys changed on every try.
    """
    from redis.exceptions import WatchError

    for _ in range(_RETRIES):
        plan = make_plan()
        watcher: Any = None
        try:
            batch = next(plan)
            while True:
                if batch.watch:
                    watcher = watcher or client.pipeline(transaction=True)
                    watcher.watch(*batch.watch)
                if watcher is not None and not batch.atomic:
                    replies = [watcher.execute_command(*command) for command in batch.commands]
                elif watcher is not None:
                    watcher.multi()
                    for command in batch.commands:
                        watcher.execute_command(*command)
                    replies = watcher.execute()
                    watcher.reset()
                    watcher = None
                else:
                    with client.pipeline(transaction=batch.atomic) as pipe:
                        for command in batch.commands:
                            pipe.execute_command(*command)  # type: ignore[no-untyped-call]
                        replies = pipe.execute()
                batch = plan.send(replies)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except WatchError:
            continue
        finally:
            if watcher is not None:
                watcher.reset()
    raise _exhausted(name)


async def arun_plan(
    client: redis.asyncio.Redis, make_plan: Callable[[], Plan[T]], name: str = "write"
) -> T:
    """Run a plan on an async client (the twin of `run_plan`).

    Raises:
        BackendError: The watched keys changed on every try.
    """
    from redis.exceptions import WatchError

    for _ in range(_RETRIES):
        plan = make_plan()
        watcher: Any = None
        try:
            batch = next(plan)
            while True:
                if batch.watch:
                    watcher = watcher or client.pipeline(transaction=True)
                    await watcher.watch(*batch.watch)
                if watcher is not None and not batch.atomic:
                    replies = [
                        await watcher.execute_command(*command) for command in batch.commands
                    ]
                elif watcher is not None:
                    watcher.multi()
                    for command in batch.commands:
                        watcher.execute_command(*command)
                    replies = await watcher.execute()
                    await watcher.reset()
                    watcher = None
                else:
                    async with client.pipeline(transaction=batch.atomic) as pipe:
                        for command in batch.commands:
                            pipe.execute_command(*command)
                        replies = await pipe.execute()
                batch = plan.send(replies)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except WatchError:
            continue
        finally:
            if watcher is not None:
                await watcher.reset()
    raise _exhausted(name)
