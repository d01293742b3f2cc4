"""A thread's lease on Redis: one run at a time per thread across processes.

The lease is one key, ``P:lock:{T}``, set with ``SET NX PX`` to a random
token. While the run lasts, a renewer (a daemon thread, or a task for async
runs) extends it every third of `LEASE_SECONDS`, but only while the key
still holds its token (a Lua compare-and-extend); the run's end deletes it
the same way, so a run never frees a lease another run has taken since. A
process that dies stops renewing, and its lease expires after at most
`LEASE_SECONDS`: the next run waits that long, not forever.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from memorygraph.checkpointers.backends.redis_client import key_part

if TYPE_CHECKING:
    from memorygraph.checkpointers.backends.redis_saver import RedisSaver

__all__ = ["LEASE_SECONDS", "ahold_lease", "hold_lease", "lease_key"]

logger = logging.getLogger(__name__)

LEASE_SECONDS = 30.0
"""How long a lease outlives a process that died holding it."""

_POLL_SECONDS = 0.02

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def lease_key(saver: RedisSaver, thread_id: str) -> str:
    """The key that holds the lease of ``thread_id``."""
    return f"{saver.prefix}:lock:{key_part(thread_id)}"


def _lost(key: str) -> None:
    logger.warning(
        "the Redis lease %s expired while its run was still going (the process stalled for "
        "longer than %.0fs, or the key was deleted); another run may take the thread",
        key,
        LEASE_SECONDS,
    )


@contextmanager
def hold_lease(
    saver: RedisSaver, thread_id: str, deadline: float, busy: Callable[[], Exception]
) -> Iterator[None]:
    """Hold the thread's lease until the block ends (sync client).

    Raises:
        Exception: ``busy()``, when another run held the lease past ``deadline``.
    """
    from redis.exceptions import RedisError

    conn, key, token = saver.conn, lease_key(saver, thread_id), secrets.token_hex(16)
    lease_ms = int(LEASE_SECONDS * 1000)
    while not conn.set(key, token, nx=True, px=lease_ms):
        if time.monotonic() > deadline:
            raise busy()
        time.sleep(_POLL_SECONDS)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LEASE_SECONDS / 3):
            try:
                if not conn.eval(_RENEW, 1, key, token, lease_ms):
                    _lost(key)
                    return
            except RedisError as exc:  # the next tick tries again
                logger.warning("renewing the Redis lease %s failed: %s", key, exc)

    renewer = threading.Thread(target=renew, name=f"memorygraph-lease-{thread_id}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        try:
            conn.eval(_RELEASE, 1, key, token)
        except RedisError as exc:
            logger.warning("releasing the Redis lease %s failed (it expires): %s", key, exc)


@asynccontextmanager
async def ahold_lease(
    saver: RedisSaver, thread_id: str, deadline: float, busy: Callable[[], Exception]
) -> AsyncIterator[None]:
    """Async twin of `hold_lease`: it uses the saver's async client, if it has one.

    Raises:
        Exception: ``busy()``, when another run held the lease past ``deadline``.
    """
    from redis.exceptions import RedisError

    key, token = lease_key(saver, thread_id), secrets.token_hex(16)
    lease_ms = int(LEASE_SECONDS * 1000)
    aconn = saver.aconn

    async def call(name: str, *args: Any, **kwargs: Any) -> Any:
        if aconn is not None:
            return await getattr(aconn, name)(*args, **kwargs)
        return await asyncio.to_thread(getattr(saver.conn, name), *args, **kwargs)

    while not await call("set", key, token, nx=True, px=lease_ms):
        if time.monotonic() > deadline:
            raise busy()
        await asyncio.sleep(_POLL_SECONDS)

    async def renew() -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                if not await call("eval", _RENEW, 1, key, token, lease_ms):
                    _lost(key)
                    return
            except RedisError as exc:
                logger.warning("renewing the Redis lease %s failed: %s", key, exc)

    renewer = asyncio.create_task(renew(), name=f"memorygraph-lease-{thread_id}")
    try:
        yield
    finally:
        renewer.cancel()
        await asyncio.wait([renewer])  # (unlike awaiting it, keeps our own cancellation)
        try:
            await call("eval", _RELEASE, 1, key, token)
        except RedisError as exc:
            logger.warning("releasing the Redis lease %s failed (it expires): %s", key, exc)
