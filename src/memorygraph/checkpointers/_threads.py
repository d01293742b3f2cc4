"""The operations on a saver's threads: list, delete (forget) and prune.

Each asks `memorygraph.checkpointers.backends.adapter_for` once for the
saver's backend adapter and calls it; the backends' differences live there.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from memorygraph.checkpointers.backends import adapter_for
from memorygraph.checkpointers.backends.base import check_thread_id

__all__ = [
    "adelete_thread",
    "alist_threads",
    "aprune_thread",
    "delete_thread",
    "list_threads",
    "prune_thread",
]


def delete_thread(
    checkpointer: BaseCheckpointSaver[Any], thread_id: str, *, vacuum: bool = True
) -> None:
    """Delete every checkpoint and pending write of a thread.

    On SQLite, deleted rows only become free pages: the file does not shrink.
    So after the delete this runs ``VACUUM`` and ``PRAGMA
    wal_checkpoint(TRUNCATE)``, which rewrite the file without the thread.
    That costs time in proportion to the whole database; pass
    ``vacuum=False`` when deleting many threads, and vacuum once at the end
    (a last call with ``vacuum=True`` does it). PostgreSQL reclaims space
    with autovacuum.

    Args:
        checkpointer: Any LangGraph saver that implements ``delete_thread``.
        thread_id: The thread to forget.
        vacuum: Whether to reclaim the space on SQLite.

    Raises:
        IdentityError: ``thread_id`` is empty or blank.

    Example:
        >>> from memorygraph.checkpointers import delete_thread, open_checkpointer
        >>> with open_checkpointer("memory") as saver:
        ...     delete_thread(saver, "no-such-thread")
        >>> delete_thread(saver, " ")
        Traceback (most recent call last):
        ...
        memorygraph.errors.IdentityError: thread_id must be a non-blank string, got ' '
    """
    check_thread_id(thread_id)
    adapter_for(checkpointer).delete_thread(checkpointer, thread_id, vacuum=vacuum)


async def adelete_thread(
    checkpointer: BaseCheckpointSaver[Any], thread_id: str, *, vacuum: bool = True
) -> None:
    """Delete every checkpoint and pending write of a thread (async).

    The async twin of `delete_thread`. A sync-only saver (``SqliteSaver``,
    ``PostgresSaver``) is driven from a worker thread.

    Args:
        checkpointer: Any LangGraph saver that implements ``adelete_thread``
            or ``delete_thread``.
        thread_id: The thread to forget.
        vacuum: Whether to reclaim the space on SQLite.

    Raises:
        IdentityError: ``thread_id`` is empty or blank.

    Example:
        >>> import asyncio
        >>> from memorygraph.checkpointers import adelete_thread, aopen_checkpointer
        >>> async def forget() -> None:
        ...     async with aopen_checkpointer("memory") as saver:
        ...         await adelete_thread(saver, "no-such-thread")
        >>> asyncio.run(forget())
    """
    check_thread_id(thread_id)
    await adapter_for(checkpointer).adelete_thread(checkpointer, thread_id, vacuum=vacuum)


def list_threads(checkpointer: BaseCheckpointSaver[Any]) -> list[str]:
    """Return the ids of the threads that have checkpoints, sorted.

    SQLite and PostgreSQL savers answer with one ``SELECT DISTINCT``, a
    `RedisSaver` with one ``SMEMBERS``; an
    `InMemorySaver` reads its storage; any other saver is scanned with
    ``checkpointer.list(None)``, which loads every checkpoint.

    Args:
        checkpointer: Any LangGraph saver.

    Returns:
        The distinct thread ids, sorted.

    Example:
        >>> from memorygraph.checkpointers import list_threads, open_checkpointer
        >>> with open_checkpointer("memory") as saver:
        ...     list_threads(saver)
        []
    """
    return adapter_for(checkpointer).list_threads(checkpointer)


async def alist_threads(checkpointer: BaseCheckpointSaver[Any]) -> list[str]:
    """Return the ids of the threads that have checkpoints, sorted (async).

    The async twin of `list_threads`.

    Args:
        checkpointer: Any LangGraph saver.

    Returns:
        The distinct thread ids, sorted.

    Example:
        >>> import asyncio
        >>> from memorygraph.checkpointers import alist_threads, aopen_checkpointer
        >>> async def threads() -> list[str]:
        ...     async with aopen_checkpointer("memory") as saver:
        ...         return await alist_threads(saver)
        >>> asyncio.run(threads())
        []
    """
    return await adapter_for(checkpointer).alist_threads(checkpointer)


def prune_thread(checkpointer: BaseCheckpointSaver[Any], thread_id: str) -> None:
    """Keep only the latest checkpoint of each namespace of a thread.

    The checkpoint kept is the one ``get_tuple`` loads, with its pending
    writes, so an interrupted thread can still be resumed: its interrupts are
    pending writes. Every older checkpoint and its writes are deleted, and the
    kept checkpoint loses its parent link. A subgraph call's namespace goes
    with the root checkpoint the call started from; a ``checkpointer=True``
    subgraph keeps its latest checkpoint. Time travel to a deleted checkpoint
    is no longer possible.

    - ``PostgresSaver`` / ``AsyncPostgresSaver``: their own
      ``prune([thread_id], strategy="keep_latest")``.
    - ``SqliteSaver`` / ``AsyncSqliteSaver``: a few statements in one
      ``BEGIN IMMEDIATE`` transaction. There is no ``VACUUM``: the freed pages
      are reused by the next checkpoints, which keeps the file's size bounded.
      `delete_thread` is what shrinks the file.
    - ``InMemorySaver``: its dictionaries.
    - ``RedisSaver``: its own ``prune``, one optimistic transaction
      (``WATCH``/``MULTI``/``EXEC``) with the same plan as SQLite's.
    - Any other saver: its own ``prune``, if it has one.

    Args:
        checkpointer: The saver that holds the thread.
        thread_id: The thread to prune. The other threads are not touched.

    Raises:
        IdentityError: ``thread_id`` is empty or blank.
        BackendError: The saver cannot prune (its type is named), or the
            thread uses a ``DeltaChannel``, whose value is rebuilt from the
            older checkpoints this would delete. Database errors (such as
            ``sqlite3.OperationalError``) propagate unchanged, and leave the
            thread as it was.

    Example:
        >>> from langgraph.graph import MessagesState, StateGraph
        >>> from memorygraph.checkpointers import open_checkpointer, prune_thread
        >>> builder = StateGraph(MessagesState)
        >>> _ = builder.add_node("reply", lambda state: {"messages": [("ai", "ok")]})
        >>> _ = builder.set_entry_point("reply")
        >>> cfg = {"configurable": {"thread_id": "t1"}}
        >>> with open_checkpointer("memory") as saver:
        ...     graph = builder.compile(checkpointer=saver)
        ...     for text in ["one", "two", "three"]:
        ...         _ = graph.invoke({"messages": [("user", text)]}, cfg)
        ...     before = len(list(graph.get_state_history(cfg)))
        ...     prune_thread(saver, "t1")
        ...     after = len(list(graph.get_state_history(cfg)))
        ...     messages = len(graph.get_state(cfg).values["messages"])
        >>> before, after, messages
        (9, 1, 6)
    """
    check_thread_id(thread_id)
    adapter_for(checkpointer).prune(checkpointer, thread_id)


async def aprune_thread(checkpointer: BaseCheckpointSaver[Any], thread_id: str) -> None:
    """Keep only the latest checkpoint of each namespace of a thread (async).

    The async twin of `prune_thread`, with the same rules. A sync-only saver
    (``SqliteSaver``, ``PostgresSaver``) is driven from a worker thread.

    Args:
        checkpointer: The saver that holds the thread.
        thread_id: The thread to prune.

    Raises:
        IdentityError: ``thread_id`` is empty or blank.
        BackendError: The saver cannot prune, or the thread uses a ``DeltaChannel``.

    Example:
        >>> import asyncio
        >>> from langgraph.graph import MessagesState, StateGraph
        >>> from memorygraph.checkpointers import aopen_checkpointer, aprune_thread
        >>> builder = StateGraph(MessagesState)
        >>> _ = builder.add_node("reply", lambda state: {"messages": [("ai", "ok")]})
        >>> _ = builder.set_entry_point("reply")
        >>> async def history_after_pruning() -> int:
        ...     cfg = {"configurable": {"thread_id": "t1"}}
        ...     async with aopen_checkpointer("memory") as saver:
        ...         graph = builder.compile(checkpointer=saver)
        ...         for text in ["one", "two"]:
        ...             await graph.ainvoke({"messages": [("user", text)]}, cfg)
        ...         await aprune_thread(saver, "t1")
        ...         return len([s async for s in graph.aget_state_history(cfg)])
        >>> asyncio.run(history_after_pruning())
        1
    """
    check_thread_id(thread_id)
    await adapter_for(checkpointer).aprune(checkpointer, thread_id)
