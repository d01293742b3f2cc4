"""The run's hold on its thread: `thread_lock` around each run, `prune_target` after it.

Two runs on one thread at once both start from the same checkpoint. With
LangGraph's savers the later one's checkpoint becomes the thread's state and
the other's turn is lost; with `PostgresSaver` it is worse: both runs write
channel blobs under the same version numbers, and pruning after one run
deletes blobs the other run's checkpoint still points to, which leaves the
thread unreadable.

So `MemoryGraph` holds a lock on the thread for the whole run (and its prune):

* within a process, a lock per (saver, thread) serializes threads and tasks;
* across processes, the lock of the saver's backend adapter
  (`memorygraph.checkpointers.backends`): on PostgreSQL a session advisory
  lock keyed by the thread id; on one SQLite file (`SqliteSaver`) a POSIX
  record lock on one byte of a ``<file>.memorygraph-locks`` file; on Redis
  (`RedisSaver`) a lease that expires 30 seconds after a process that died
  holding it. The first two are released when the process dies.

`AsyncSqliteSaver` and the in-memory saver get the in-process lock only (two
processes on one file with the async saver lose a turn, last writer wins, but
SQLite keeps a whole checkpoint in one row, so the thread stays readable).

A run that waits longer than ``timeout`` seconds raises `ThreadBusyError`.

When the run ends, `PruneTarget` keeps only the thread's latest checkpoint
(``keep_checkpoints="latest"``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig, ensure_config
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.constants import CONFIG_KEY_CHECKPOINTER

from memorygraph.checkpointers import aprune_thread, prune_thread
from memorygraph.checkpointers.backends import adapter_for, database_errors
from memorygraph.errors import ThreadBusyError

__all__ = ["DEFAULT_TIMEOUT", "PruneTarget", "athread_lock", "prune_target", "thread_lock"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120.0
"""Seconds a run waits for another run on the same thread before giving up."""

_POLL_SECONDS = 0.02

_local_guard = threading.Lock()
# (database, thread) -> [lock, users]; an entry lives while a run holds or waits for it.
_local: dict[tuple[int, str], list[Any]] = {}


def _database(saver: Any) -> int:
    # Graphs built on one saver hold copies of it (register_types): key by what
    # they share, the connection (or pool, or in-memory storage).
    for name in ("conn", "storage"):  # (an empty storage dict is falsy: test for None)
        shared = getattr(saver, name, None)
        if shared is not None:
            return id(shared)
    return id(saver)


@contextmanager
def _local_entry(saver: Any, thread_id: str) -> Iterator[threading.Lock]:
    key = (_database(saver), thread_id)
    with _local_guard:
        entry = _local.setdefault(key, [threading.Lock(), 0])
        entry[1] += 1
    try:
        yield entry[0]
    finally:
        with _local_guard:
            entry[1] -= 1
            if entry[1] == 0:
                del _local[key]


def _busy(thread_id: str, timeout: float) -> ThreadBusyError:
    return ThreadBusyError(
        f"thread {thread_id!r} is being written by another run, still after {timeout:.0f}s; "
        "a thread takes one turn at a time: retry when that run has ended"
    )


@contextmanager
def thread_lock(saver: Any, thread_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the thread for one run (see the module docstring).

    Raises:
        ThreadBusyError: Another run held the thread for longer than ``timeout``.
    """
    deadline = time.monotonic() + timeout
    with _local_entry(saver, thread_id) as local:
        if not local.acquire(timeout=timeout):
            raise _busy(thread_id, timeout)
        try:
            with adapter_for(saver).lock(
                saver, thread_id, deadline, lambda: _busy(thread_id, timeout)
            ):
                yield
        finally:
            local.release()


@asynccontextmanager
async def athread_lock(
    saver: Any, thread_id: str, *, timeout: float = DEFAULT_TIMEOUT
) -> AsyncIterator[None]:
    """Async twin of `thread_lock`."""
    deadline = time.monotonic() + timeout
    with _local_entry(saver, thread_id) as local:
        while not local.acquire(blocking=False):
            if time.monotonic() > deadline:
                raise _busy(thread_id, timeout)
            await asyncio.sleep(_POLL_SECONDS)
        try:
            async with adapter_for(saver).alock(
                saver, thread_id, deadline, lambda: _busy(thread_id, timeout)
            ):
                yield
        finally:
            local.release()


# --- after the run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneTarget:
    """The saver and thread that a root run of the memory graph prunes when it ends."""

    checkpointer: BaseCheckpointSaver[Any]
    thread_id: str

    def prune(self) -> None:
        """Prune the thread; a database error is logged, and the next run retries."""
        try:
            prune_thread(self.checkpointer, self.thread_id)
        except database_errors() as exc:
            _log_failure(self.thread_id, exc)

    async def aprune(self) -> None:
        """Async twin of `prune`."""
        try:
            await aprune_thread(self.checkpointer, self.thread_id)
        except database_errors() as exc:
            _log_failure(self.thread_id, exc)

    def deferred_sync(self) -> AbstractContextManager[None]:
        """Held around the run: its saves need not wait for the disk, the prune does.

        See `memorygraph.checkpointers.backends.sqlite_sync`; a no-op for the
        backends that have no such setting.
        """
        return adapter_for(self.checkpointer).deferred_sync(self.checkpointer)

    def adeferred_sync(self) -> AbstractAsyncContextManager[None]:
        """Async twin of `deferred_sync`."""
        return adapter_for(self.checkpointer).adeferred_sync(self.checkpointer)


def prune_target(
    checkpointer: object, config: RunnableConfig | None, keep_checkpoints: str
) -> PruneTarget | None:
    """Return what a run with this config should prune when it ends, if anything.

    Nothing when history is kept, when the graph has no saver of its own (a
    subgraph borrows its parent's through the config; `MemoryGraph` passes None
    for a saver the LangGraph API server attached, whose storage the platform
    owns), or when the run is a subgraph call (it has a namespace): the root
    run prunes. Called before the run, so that a saver
    that cannot prune fails it before anything is written.

    Raises:
        BackendError: The saver cannot prune.
    """
    if keep_checkpoints != "latest" or not isinstance(checkpointer, BaseCheckpointSaver):
        return None
    configurable = ensure_config(config).get("configurable") or {}
    thread_id = configurable.get("thread_id")
    if (
        thread_id is None
        or configurable.get("checkpoint_ns")
        or CONFIG_KEY_CHECKPOINTER in configurable
    ):
        return None
    adapter_for(checkpointer).check_can_prune(checkpointer)
    return PruneTarget(checkpointer, str(thread_id))


def _log_failure(thread_id: str, exc: Exception) -> None:
    # The run itself succeeded and is saved; pruning is idempotent, so the next
    # run's prune catches up. Failing the run here would invite a retry that
    # sends the same turn twice.
    logger.warning(
        "run saved, but pruning older checkpoints of thread %r failed (%s: %s); "
        "the next run retries",
        thread_id,
        type(exc).__name__,
        exc,
    )
