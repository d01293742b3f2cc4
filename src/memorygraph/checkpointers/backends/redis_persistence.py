"""Rewrite a Redis server's files on disk after a forget: Redis's counterpart of VACUUM.

A deleted key is gone from Redis's memory at once, but not from its files: the
append-only file (AOF) still holds the commands that wrote it, and the last
RDB snapshot still holds its value, until Redis rewrites them. `rewrite_files`
asks for both rewrites (``BGREWRITEAOF`` when AOF is on, ``BGSAVE`` when
snapshots are configured) and waits for them to finish. A server that keeps
nothing on disk needs neither, and gets neither.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["arewrite_files", "rewrite_files", "server_name"]

logger = logging.getLogger(__name__)

WAIT_SECONDS = 120.0
"""How long a forget waits for Redis to finish rewriting its files."""

_POLL_SECONDS = 0.05
_BUSY = (
    "aof_rewrite_in_progress",
    "aof_rewrite_scheduled",
    "rdb_bgsave_in_progress",
)


def server_name(conn: redis.Redis | redis.asyncio.Redis) -> str:
    """``redis://host:port/db`` of a client, without credentials."""
    kwargs = conn.connection_pool.connection_kwargs
    where = kwargs.get("path") or f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
    return f"redis://{where}/{kwargs.get('db', 0)}"


def _plan(info: Mapping[str, Any], save: Mapping[Any, Any] | None) -> list[str]:
    commands = []
    if str(info.get("aof_enabled", "0")) == "1":
        commands.append("BGREWRITEAOF")
    if save is not None and str(save.get("save") or "").strip():
        commands.append("BGSAVE SCHEDULE")
    return commands


def _busy(info: dict[str, Any]) -> bool:
    return any(str(info.get(field, "0")) == "1" for field in _BUSY)


def _describe(conn: Any, commands: list[str]) -> str:
    files = " and ".join("AOF" if c == "BGREWRITEAOF" else "RDB snapshot" for c in commands)
    return f"{server_name(conn)} ({files} rewritten)"


def rewrite_files(conn: redis.Redis) -> str | None:
    """Rewrite the AOF and the RDB snapshot, if the server keeps them; wait for both.

    Returns:
        A description (``"redis://host:6379/0 (AOF rewritten)"``), or None
        when the server keeps nothing on disk or could not be asked.
    """
    from redis.exceptions import RedisError

    try:
        info = conn.info("persistence")
        try:
            save: Mapping[Any, Any] | None = conn.config_get("save")
        except RedisError:  # CONFIG is often disabled on managed servers
            save = None
            logger.warning("cannot read Redis's snapshot settings (CONFIG GET save refused)")
        commands = _plan(info, save)
        if "BGREWRITEAOF" in commands:
            conn.bgrewriteaof()
        if "BGSAVE SCHEDULE" in commands:
            conn.bgsave(schedule=True)
        deadline = time.monotonic() + WAIT_SECONDS
        while commands and _busy(conn.info("persistence")):
            if time.monotonic() > deadline:
                logger.warning("Redis is still rewriting its files after %.0fs", WAIT_SECONDS)
                return None
            time.sleep(_POLL_SECONDS)
    except RedisError as exc:
        logger.warning("forgotten, but rewriting Redis's files failed: %s", exc)
        return None
    return _describe(conn, commands) if commands else None


async def arewrite_files(conn: redis.asyncio.Redis) -> str | None:
    """Async twin of `rewrite_files`."""
    from redis.exceptions import RedisError

    try:
        info = await conn.info("persistence")
        try:
            save: Mapping[Any, Any] | None = await conn.config_get("save")
        except RedisError:
            save = None
            logger.warning("cannot read Redis's snapshot settings (CONFIG GET save refused)")
        commands = _plan(info, save)
        if "BGREWRITEAOF" in commands:
            await conn.bgrewriteaof()
        if "BGSAVE SCHEDULE" in commands:
            await conn.bgsave(schedule=True)
        deadline = time.monotonic() + WAIT_SECONDS
        while commands and _busy(await conn.info("persistence")):
            if time.monotonic() > deadline:
                logger.warning("Redis is still rewriting its files after %.0fs", WAIT_SECONDS)
                return None
            await asyncio.sleep(_POLL_SECONDS)
    except RedisError as exc:
        logger.warning("forgotten, but rewriting Redis's files failed: %s", exc)
        return None
    return _describe(conn, commands) if commands else None
