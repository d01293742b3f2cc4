"""`BackendAdapter`: what memorygraph does with one backend, and `AnySaver`, the fallback.

Each backend (memory, SQLite, PostgreSQL, Redis) has one adapter, a module of
this package with an ``ADAPTER`` instance. Every public operation on a saver or
a store finds the adapter once (`memorygraph.checkpointers.backends.adapter_for`)
and calls it; no operation tests saver classes itself.

`AnySaver` is what a saver no adapter knows gets: LangGraph's own methods
(``prune``, ``list``, ``delete_thread``), no cross-process lock, no vacuum. The
adapters extend it and replace what their backend does better.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Coroutine, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    ExitStack,
    nullcontext,
)
from typing import Any, Protocol, TypeVar

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore, IndexConfig

from memorygraph.errors import BackendError, IdentityError

__all__ = ["AnySaver", "BackendAdapter", "check_thread_id", "lock_key", "run_on_loop"]

T = TypeVar("T")
Busy = Callable[[], Exception]
"""Makes the error a lock raises when it waited past its deadline."""


class BackendAdapter(Protocol):
    """One backend's persistence: open, lock, prune, list, forget and vacuum.

    Methods that take a saver or a store are called only with objects for which
    `handles` is true. A sync method may be given an async saver (and the
    reverse); the adapter then does what LangGraph's saver would.
    """

    name: str
    """The URL kind (``"memory"``, ``"sqlite"``, ``"postgres"``, ``"redis"``)."""

    def handles(self, obj: object) -> bool:
        """Whether ``obj`` (a saver or a store) belongs to this backend."""
        ...

    def open_saver(self, location: str, stack: ExitStack) -> BaseCheckpointSaver[str]:
        """Open a saver at ``location`` (the URL's path or the URL), closed with ``stack``."""
        ...

    async def aopen_saver(self, location: str, stack: AsyncExitStack) -> BaseCheckpointSaver[str]:
        """Async twin of `open_saver`."""
        ...

    def open_store(self, location: str, stack: ExitStack, index: IndexConfig | None) -> BaseStore:
        """Open a store at ``location``, closed with ``stack``."""
        ...

    async def aopen_store(
        self, location: str, stack: AsyncExitStack, index: IndexConfig | None
    ) -> BaseStore:
        """Async twin of `open_store`."""
        ...

    def lock(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, deadline: float, busy: Busy
    ) -> AbstractContextManager[None]:
        """Hold the thread across processes for one run (``busy()`` past ``deadline``)."""
        ...

    def alock(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, deadline: float, busy: Busy
    ) -> AbstractAsyncContextManager[None]:
        """Async twin of `lock`."""
        ...

    def check_can_prune(self, saver: BaseCheckpointSaver[Any]) -> None:
        """Raise `BackendError` now if `prune` could never work on this saver."""
        ...

    def prune(self, saver: BaseCheckpointSaver[Any], thread_id: str) -> None:
        """Keep only the latest checkpoint of each namespace of the thread."""
        ...

    async def aprune(self, saver: BaseCheckpointSaver[Any], thread_id: str) -> None:
        """Async twin of `prune`."""
        ...

    def deferred_sync(self, saver: BaseCheckpointSaver[Any]) -> AbstractContextManager[None]:
        """While open, the saver's commits need not wait for the disk.

        Held around a run that `prune` ends: the prune's commit waits for the
        disk, and makes the run's saves durable with it.
        """
        ...

    def adeferred_sync(self, saver: BaseCheckpointSaver[Any]) -> AbstractAsyncContextManager[None]:
        """Async twin of `deferred_sync`."""
        ...

    def list_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        """The ids of the threads that have checkpoints, sorted."""
        ...

    async def alist_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        """Async twin of `list_threads`."""
        ...

    def delete_thread(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, *, vacuum: bool
    ) -> None:
        """Delete the thread's checkpoints and writes; ``vacuum`` shrinks a database file."""
        ...

    async def adelete_thread(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, *, vacuum: bool
    ) -> None:
        """Async twin of `delete_thread`."""
        ...

    def vacuum(self, objs: Sequence[object]) -> list[str]:
        """Rewrite the files behind ``objs`` so deleted bytes are gone; what was rewritten."""
        ...

    async def avacuum(self, objs: Sequence[object]) -> list[str]:
        """Async twin of `vacuum`."""
        ...

    def sync_only(self, obj: object) -> bool:
        """Whether async callers must drive ``obj`` from a worker thread."""
        ...

    def database_errors(self) -> tuple[type[Exception], ...]:
        """Every error the backend's driver raises."""
        ...

    def failure_errors(self) -> tuple[type[Exception], ...]:
        """The errors that mean the database failed in a run (disk full, link lost)."""
        ...

    def is_corruption(self, exc: BaseException) -> bool:
        """Whether ``exc``, raised loading a checkpoint, means the stored bytes are bad."""
        ...


def check_thread_id(thread_id: object) -> str:
    """Return ``thread_id``, or raise `IdentityError` if it is not a non-blank string."""
    if not isinstance(thread_id, str) or not thread_id.strip():
        raise IdentityError(f"thread_id must be a non-blank string, got {thread_id!r}")
    return thread_id


def run_on_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], name: str) -> T:
    """Run ``coro`` on an async saver's loop from sync code, and wait for it.

    Raises:
        asyncio.InvalidStateError: Called from that loop itself (it would deadlock).
    """
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise asyncio.InvalidStateError(
            f"{name}() on an async saver must be called from another thread; "
            f"inside its event loop, await a{name}() instead"
        )
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def lock_key(thread_id: str) -> int:
    """A signed 64-bit number for the thread: its advisory lock, or its lock byte."""
    digest = hashlib.sha256(f"memorygraph:thread:{thread_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def delta_refusal(thread_id: str) -> BackendError:
    """The error for pruning a thread whose `DeltaChannel` needs its old checkpoints."""
    return BackendError(
        f"cannot prune thread {thread_id!r}: it uses a DeltaChannel, whose value is rebuilt "
        "from the older checkpoints that pruning deletes; use "
        "MemoryConfig(keep_checkpoints='all') for this graph"
    )


class AnySaver:
    """Any LangGraph saver, through its own methods: the fallback adapter."""

    name = "any"

    def handles(self, obj: object) -> bool:
        """Every object: this is the last adapter asked."""
        return True

    def _no_url(self) -> BackendError:
        return BackendError(f"no URL opens a {self.name!r} backend")

    def open_saver(self, location: str, stack: ExitStack) -> BaseCheckpointSaver[str]:
        """No URL names this backend."""
        raise self._no_url()

    async def aopen_saver(self, location: str, stack: AsyncExitStack) -> BaseCheckpointSaver[str]:
        """No URL names this backend."""
        raise self._no_url()

    def open_store(self, location: str, stack: ExitStack, index: IndexConfig | None) -> BaseStore:
        """No URL names this backend."""
        raise self._no_url()

    async def aopen_store(
        self, location: str, stack: AsyncExitStack, index: IndexConfig | None
    ) -> BaseStore:
        """No URL names this backend."""
        raise self._no_url()

    def lock(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, deadline: float, busy: Busy
    ) -> AbstractContextManager[None]:
        """No lock across processes (the run still holds the in-process one)."""
        return nullcontext()

    def alock(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, deadline: float, busy: Busy
    ) -> AbstractAsyncContextManager[None]:
        """No lock across processes (the run still holds the in-process one)."""
        return nullcontext()

    def check_can_prune(self, saver: BaseCheckpointSaver[Any]) -> None:
        """Refuse a saver that does not implement ``prune()``."""
        if type(saver).prune is BaseCheckpointSaver.prune:
            raise BackendError(
                f"{type(saver).__name__} cannot prune checkpoints (it does not implement "
                "prune()); use MemoryConfig(keep_checkpoints='all') with it, or an in-memory, "
                "SQLite or PostgreSQL saver"
            )

    def prune(self, saver: BaseCheckpointSaver[Any], thread_id: str) -> None:
        """The saver's own ``prune([thread_id], strategy="keep_latest")``."""
        self.check_can_prune(saver)
        try:
            saver.prune([thread_id], strategy="keep_latest")
        except NotImplementedError as exc:
            raise _refusal(saver, thread_id, exc) from exc

    async def aprune(self, saver: BaseCheckpointSaver[Any], thread_id: str) -> None:
        """The saver's own ``aprune``, or its ``prune`` in a worker thread."""
        self.check_can_prune(saver)
        try:
            if type(saver).aprune is not BaseCheckpointSaver.aprune:
                await saver.aprune([thread_id], strategy="keep_latest")
            else:
                await asyncio.to_thread(saver.prune, [thread_id], strategy="keep_latest")
        except NotImplementedError as exc:
            raise _refusal(saver, thread_id, exc) from exc

    def deferred_sync(self, saver: BaseCheckpointSaver[Any]) -> AbstractContextManager[None]:
        """Nothing to defer: the saver commits as it always does."""
        return nullcontext()

    def adeferred_sync(self, saver: BaseCheckpointSaver[Any]) -> AbstractAsyncContextManager[None]:
        """Nothing to defer: the saver commits as it always does."""
        return nullcontext()

    def list_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        """Scan every checkpoint with ``saver.list(None)``."""
        return sorted({item.config["configurable"]["thread_id"] for item in saver.list(None)})

    async def alist_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        """Scan every checkpoint with ``saver.alist(None)``."""
        return sorted(
            {item.config["configurable"]["thread_id"] async for item in saver.alist(None)}
        )

    def delete_thread(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, *, vacuum: bool
    ) -> None:
        """The saver's own ``delete_thread``; there is nothing to vacuum."""
        saver.delete_thread(thread_id)

    async def adelete_thread(
        self, saver: BaseCheckpointSaver[Any], thread_id: str, *, vacuum: bool
    ) -> None:
        """The saver's own ``adelete_thread``."""
        await saver.adelete_thread(thread_id)

    def vacuum(self, objs: Sequence[object]) -> list[str]:
        """Nothing to rewrite."""
        return []

    async def avacuum(self, objs: Sequence[object]) -> list[str]:
        """Nothing to rewrite."""
        return []

    def sync_only(self, obj: object) -> bool:
        """Async methods are the saver's own."""
        return False

    def database_errors(self) -> tuple[type[Exception], ...]:
        """None known."""
        return ()

    def failure_errors(self) -> tuple[type[Exception], ...]:
        """None known."""
        return ()

    def is_corruption(self, exc: BaseException) -> bool:
        """Not known (the decoder's own errors are checked by the caller)."""
        return False


def _refusal(
    saver: BaseCheckpointSaver[Any], thread_id: str, exc: NotImplementedError
) -> BackendError:
    if "DeltaChannel" in str(exc):  # PostgresSaver's and RedisSaver's refusal
        return delta_refusal(thread_id)
    return BackendError(f"{type(saver).__name__} cannot prune thread {thread_id!r}: {exc}")
