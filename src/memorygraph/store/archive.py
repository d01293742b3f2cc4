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

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.store.base import BaseStore, GetOp, Item

from memorygraph.inputs import clean_text, clean_value
from memorygraph.records import ArchivedTurn
from memorygraph.store.namespaces import archive_namespace
from memorygraph.turns import message_id, message_text

__all__ = [
    "aarchive_turns",
    "archive_turns",
    "aread_archive",
    "archive_digest",
    "aread_archive_range",
    "read_archive",
    "read_archive_range",
    "to_archived",
]

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
            created_at=str(
                message.additional_kwargs.get("created_at")
                or message.additional_kwargs.get("received_at")
                or stamp
            ),
            tool_calls=[dict(call) for call in message.tool_calls]
            if isinstance(message, AIMessage)
            else [],
            tool_call_id=message.tool_call_id if isinstance(message, ToolMessage) else None,
            summary_version=summary_version,
        )
        for offset, message in enumerate(messages)
    ]


def archive_digest(previous: str | None, turns: Iterable[ArchivedTurn]) -> str:
    """The digest of an archive's turns, chained on from ``previous`` (None: the first turn).

    Each turn adds its id, role and text as the store keeps them (cleaned, see
    `memorygraph.inputs.clean_text`), so the summary's digest
    (``SessionSummary.archive_digest``) and one computed from the turns read
    back agree. It tells one thread's archive from another's that reuses the
    same message ids: a new conversation on a forgotten thread's id.

    Example:
        >>> from memorygraph.records import ArchivedTurn
        >>> def turn(seq, text):
        ...     return ArchivedTurn(id=f"m{seq}", seq=seq, role="human", content=text,
        ...                         created_at="2024-03-01T10:00", summary_version=1)
        >>> both = archive_digest(None, [turn(0, "hi"), turn(1, "bye")])
        >>> both == archive_digest(archive_digest(None, [turn(0, "hi")]), [turn(1, "bye")])
        True
        >>> both == archive_digest(None, [turn(0, "hi"), turn(1, "ciao")])
        False
    """
    digest = previous or ""
    for turn in turns:
        parts = [digest, clean_text(turn.id), turn.role, clean_text(turn.content)]
        digest = hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()
    return digest


def _key(turn: ArchivedTurn) -> str:
    return _seq_key(turn.seq)


def _seq_key(seq: int) -> str:
    return f"{seq:010d}"


def _index(store: BaseStore) -> Literal[False] | list[str]:
    # A store built with a semantic index embeds each turn's text as it is
    # archived, so recall can search it; other stores are not asked to index.
    return ["content"] if getattr(store, "index_config", None) else False


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
        # Cleaned of NUL characters and lone surrogates, which PostgreSQL cannot
        # store: turns from a drop-in graph's own nodes are not checked on entry.
        value = clean_value(turn.model_dump(mode="json"))
        store.put(namespace, _key(turn), value, index=_index(store))
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
        value = clean_value(turn.model_dump(mode="json"))
        await store.aput(namespace, _key(turn), value, index=_index(store))
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


def _range_ops(thread: ThreadKey, start: int, stop: int) -> list[GetOp]:
    namespace = archive_namespace(*thread)
    return [GetOp(namespace, _seq_key(seq)) for seq in range(start, stop)]


def _contiguous(items: Sequence[object]) -> list[ArchivedTurn]:
    turns: list[ArchivedTurn] = []
    for item in items:
        if not isinstance(item, Item):
            break  # a gap: the turns after it are not trusted to follow on
        turns.append(ArchivedTurn.model_validate(item.value))
    return turns


def read_archive_range(
    store: BaseStore, thread: ThreadKey, start: int, stop: int
) -> list[ArchivedTurn]:
    """Read the turns at positions ``start`` to ``stop - 1``, in one batch.

    Args:
        store: The LangGraph store.
        thread: ``(tenant_id, user_id, thread_id)``.
        start: The first position to read.
        stop: One past the last position.

    Returns:
        The turns in order, up to the first position the archive does not hold.

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> from langgraph.store.memory import InMemoryStore
        >>> store = InMemoryStore()
        >>> thread = ("acme", "ana", "t1")
        >>> _ = archive_turns(store, thread, [HumanMessage(w, id=w) for w in "abc"],
        ...                   start_seq=0, summary_version=1)
        >>> [t.id for t in read_archive_range(store, thread, 1, 5)]
        ['b', 'c']
    """
    if stop <= start:
        return []
    return _contiguous(store.batch(_range_ops(thread, start, stop)))


async def aread_archive_range(
    store: BaseStore, thread: ThreadKey, start: int, stop: int
) -> list[ArchivedTurn]:
    """Async twin of `read_archive_range`."""
    if stop <= start:
        return []
    return _contiguous(await store.abatch(_range_ops(thread, start, stop)))
