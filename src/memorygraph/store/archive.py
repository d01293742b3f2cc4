"""The transcript archive: every turn folded out of the working window, kept for good.

It is append-only and canonical: a turn is stored under its position in the
thread (positions are derived from the summary, which is in the checkpoint), so
writing the same fold twice (LangGraph re-runs a node after a crash) stores the
same record again, never a duplicate.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> from langgraph.store.memory import InMemoryStore
    >>> store = InMemoryStore()
    >>> turns = archive_turns(store, ("acme", "ana", "t1"), [HumanMessage("hi", id="h1")],
    ...                       start_seq=0, summary_version=1)
    >>> [(t.seq, t.id, t.content) for t in read_archive(store, ("acme", "ana", "t1"))]
    [(0, 'h1', 'hi')]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.store.base import BaseStore

from memorygraph._turns import message_id, message_text
from memorygraph.records import ArchivedTurn
from memorygraph.store.namespaces import archive_namespace

__all__ = ["aarchive_turns", "archive_turns", "aread_archive", "read_archive", "to_archived"]

ThreadKey = tuple[str, str, str]
"""``(tenant_id, user_id, thread_id)``."""

_PAGE = 1000


def to_archived(
    messages: Sequence[BaseMessage],
    *,
    start_seq: int,
    summary_version: int,
    now: datetime | None = None,
) -> list[ArchivedTurn]:
    """Turn messages into archive records numbered from ``start_seq``."""
    stamp = (now or datetime.now(UTC)).isoformat()
    return [
        ArchivedTurn(
            id=message_id(message),
            seq=start_seq + offset,
            role=message.type,
            speaker=message.name,
            content=message_text(message),
            created_at=str(message.additional_kwargs.get("created_at") or stamp),
            tool_calls=[dict(call) for call in message.tool_calls]
            if isinstance(message, AIMessage)
            else [],
            tool_call_id=message.tool_call_id if isinstance(message, ToolMessage) else None,
            summary_version=summary_version,
        )
        for offset, message in enumerate(messages)
    ]


def _key(turn: ArchivedTurn) -> str:
    return f"{turn.seq:010d}"


def archive_turns(
    store: BaseStore,
    thread: ThreadKey,
    messages: Sequence[BaseMessage],
    *,
    start_seq: int,
    summary_version: int,
) -> list[ArchivedTurn]:
    """Write turns to the thread's archive; writing the same turns again changes nothing.

    Args:
        store: The LangGraph store.
        thread: ``(tenant_id, user_id, thread_id)``.
        messages: The turns, oldest first.
        start_seq: The position of the first turn in the thread.
        summary_version: The summary version that folds them.

    Returns:
        The archived records.
    """
    namespace = archive_namespace(*thread)
    turns = to_archived(messages, start_seq=start_seq, summary_version=summary_version)
    for turn in turns:
        store.put(namespace, _key(turn), turn.model_dump(mode="json"), index=False)
    return turns


async def aarchive_turns(
    store: BaseStore,
    thread: ThreadKey,
    messages: Sequence[BaseMessage],
    *,
    start_seq: int,
    summary_version: int,
) -> list[ArchivedTurn]:
    """Async twin of `archive_turns`."""
    namespace = archive_namespace(*thread)
    turns = to_archived(messages, start_seq=start_seq, summary_version=summary_version)
    for turn in turns:
        await store.aput(namespace, _key(turn), turn.model_dump(mode="json"), index=False)
    return turns


def read_archive(store: BaseStore, thread: ThreadKey) -> list[ArchivedTurn]:
    """Read a thread's whole archive, oldest first."""
    namespace = archive_namespace(*thread)
    turns: list[ArchivedTurn] = []
    while True:
        page = store.search(namespace, limit=_PAGE, offset=len(turns))
        turns += [ArchivedTurn.model_validate(item.value) for item in page]
        if len(page) < _PAGE:
            return sorted(turns, key=lambda turn: turn.seq)


async def aread_archive(store: BaseStore, thread: ThreadKey) -> list[ArchivedTurn]:
    """Async twin of `read_archive`."""
    namespace = archive_namespace(*thread)
    turns: list[ArchivedTurn] = []
    while True:
        page = await store.asearch(namespace, limit=_PAGE, offset=len(turns))
        turns += [ArchivedTurn.model_validate(item.value) for item in page]
        if len(page) < _PAGE:
            return sorted(turns, key=lambda turn: turn.seq)
