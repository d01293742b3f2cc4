"""Cross-process locks for one SQLite database: POSIX record locks on a side file.

SQLite locks the whole database file only for a transaction. Two things need a
lock that lasts longer and is shared between processes: LangGraph's ``setup()``
(its migrations race when two processes open a new file at once: ``UNIQUE
constraint failed: store_migrations.v``) and a run on one thread
(`memorygraph.graph._lock`, through the SQLite adapter). Each takes one byte
of ``<file>.memorygraph-locks`` with ``fcntl.lockf``; the kernel drops the
lock when the process dies, so a killed run never leaves a thread held.

The locks belong to the process, not to a Python thread: two threads of one
process both "get" the same byte, so callers serialize their own threads first
(a `threading.Lock`). POSIX only: on Windows `hold_byte` is a no-op
(`LOCKS_WORK` is False).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

__all__ = [
    "LOCKS_WORK",
    "SETUP_BYTE",
    "ahold_byte",
    "asetup_lock",
    "hold_byte",
    "lock_path",
    "setup_lock",
]

LOCKS_WORK = sys.platform != "win32"
SETUP_BYTE = 2**31
"""The byte that `setup()` takes; thread bytes lie below it (`sqlite.ADAPTER.lock`)."""

_POLL_SECONDS = 0.02
_files_guard = threading.Lock()
_lock_files: dict[str, int] = {}


def lock_path(database: str) -> str:
    """The side file that holds the locks of ``database``."""
    return f"{database}.memorygraph-locks"


def _descriptor(database: str) -> int:
    # One descriptor per file for the process's lifetime: closing any descriptor
    # of a file drops every POSIX record lock the process holds on it.
    database = os.path.realpath(database)
    with _files_guard:
        if database not in _lock_files:
            _lock_files[database] = os.open(lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
        return _lock_files[database]


def _try(fd: int, offset: int) -> bool:
    import fcntl

    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
    except OSError:
        return False
    return True


def _release(fd: int, offset: int) -> None:
    import fcntl

    fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)


@contextmanager
def hold_byte(
    database: str, offset: int, deadline: float, on_timeout: Callable[[], Exception]
) -> Iterator[None]:
    """Hold byte ``offset`` of the database's lock file; poll until ``deadline``.

    Raises:
        Exception: ``on_timeout()`` when the byte is still held at ``deadline``
            (a `time.monotonic` value).
    """
    if not LOCKS_WORK:
        yield
        return
    fd = _descriptor(database)
    while not _try(fd, offset):
        if time.monotonic() > deadline:
            raise on_timeout()
        time.sleep(_POLL_SECONDS)
    try:
        yield
    finally:
        _release(fd, offset)


@asynccontextmanager
async def ahold_byte(
    database: str, offset: int, deadline: float, on_timeout: Callable[[], Exception]
) -> AsyncIterator[None]:
    """Async twin of `hold_byte`: waits with `asyncio.sleep`, never blocking the loop."""
    if not LOCKS_WORK:
        yield
        return
    fd = _descriptor(database)
    while not _try(fd, offset):
        if time.monotonic() > deadline:
            raise on_timeout()
        await asyncio.sleep(_POLL_SECONDS)
    try:
        yield
    finally:
        _release(fd, offset)


_SETUP_GUARD = threading.Lock()  # this process's threads, for SETUP_BYTE
SETUP_TIMEOUT = 60.0
"""Seconds to wait for another process's `setup()` of the same file."""


def _setup_busy(database: str) -> Exception:
    return TimeoutError(f"another process held the setup of {database!r} for {SETUP_TIMEOUT:.0f}s")


@contextmanager
def setup_lock(database: str) -> Iterator[None]:
    """Hold the database's setup byte, so that one process at a time runs ``setup()``.

    Raises:
        TimeoutError: Another process held it for `SETUP_TIMEOUT` seconds.
    """
    deadline = time.monotonic() + SETUP_TIMEOUT
    if not _SETUP_GUARD.acquire(timeout=SETUP_TIMEOUT):
        raise _setup_busy(database)
    try:
        with hold_byte(database, SETUP_BYTE, deadline, lambda: _setup_busy(database)):
            yield
    finally:
        _SETUP_GUARD.release()


@asynccontextmanager
async def asetup_lock(database: str) -> AsyncIterator[None]:
    """Async twin of `setup_lock`."""
    deadline = time.monotonic() + SETUP_TIMEOUT
    while not _SETUP_GUARD.acquire(blocking=False):
        if time.monotonic() > deadline:
            raise _setup_busy(database)
        await asyncio.sleep(_POLL_SECONDS)
    try:
        async with ahold_byte(database, SETUP_BYTE, deadline, lambda: _setup_busy(database)):
            yield
    finally:
        _SETUP_GUARD.release()
