"""Candidates: the state turned into the `ContextItem`s a package may hold.

`collect_items` reads the state (the turns, the thread's and the user's durable
facts, the task, the summary, the resolved references) and returns every item
the package could include, each counted as it will be rendered, plus the facts
that are excluded before packing (superseded, rejected, expired, out of scope).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ToolMessage,
    message_to_dict,
)

from memorygraph.caching import KEPT_CHARS, BoundedCache
from memorygraph.config import MemoryConfig
from memorygraph.context import Identity
from memorygraph.errors import (
    ToolRoundsExceeded,
)
from memorygraph.facts.keys import PINNED_KEYS as _PINNED_KEYS
from memorygraph.packing.summary import summary_text
from memorygraph.records import (
    ContextItem,
    ExcludedItem,
    ExclusionReason,
    Fact,
    ItemKind,
    Priority,
    ResolvedReference,
    TaskState,
    TrustLevel,
    ranked,
)
from memorygraph.rendering.cost import data_tokens, instruction_tokens
from memorygraph.rendering.messages import safe_turn
from memorygraph.tokens import TokenCounter
from memorygraph.turns import (
    message_id,
    message_text,
    message_window,
    tool_rounds,
    turn_units,
)

__all__ = [
    "TEXT_FIELDS",
    "collect_items",
    "data_item",
    "exclude",
    "has_surrogate",
    "scrub",
    "state_item",
    "task_text",
    "valid_message",
    "valid_text",
]

_TRUST_BY_TYPE = {
    "human": TrustLevel.USER_CLAIMED,
    "ai": TrustLevel.MODEL_INFERRED,
    "tool": TrustLevel.TOOL_OBSERVED,
    "system": TrustLevel.USER_CLAIMED,
}


def _as_turn(message: BaseMessage) -> BaseMessage:
    # A message inside the history may have come from any caller of the graph:
    # `safe_turn` is the one rule for what of it reaches the model.
    return safe_turn(message)


def _turn_dict(message: BaseMessage) -> dict[str, Any]:
    data = message_to_dict(message)
    body = data["data"]
    for key in ("response_metadata", "usage_metadata"):
        body.pop(key, None)
    return data


def _turn_item(
    message: BaseMessage,
    *,
    kind: ItemKind,
    priority: Priority,
    rank: int,
    group: str | None,
    counter: TokenCounter,
) -> ContextItem:
    # A turn stays in the window for many packs (and is loaded again, as a new
    # object, on every run), one place further back each turn: its item is
    # built once per content and role, and given each turn its rank.
    key = (_message_key(message), kind, priority, group, counter.encoding_name)
    item = _TURN_ITEMS.get(key)
    if item is None:
        item = _build_turn_item(
            message, kind=kind, priority=priority, rank=0, group=group, counter=counter
        )
        if len(item.content) <= KEPT_CHARS:  # a large tool result is not kept twice
            _TURN_ITEMS.put(key, item)
    return ranked(item, rank)


_TURN_ITEMS: BoundedCache[tuple[Any, ...], ContextItem] = BoundedCache(2048)
_UNSENT_FIELDS = frozenset({"response_metadata", "usage_metadata"})  # `_turn_dict` drops them


def _message_key(message: BaseMessage) -> tuple[Any, ...]:
    """Everything of a message that its item is built from: its class and every field.

    A string is kept as it is (compared whole on a hit, not by its hash), any
    other value by its ``repr``; fields a message class does not declare too.
    """
    return (
        type(message),
        *(
            (name, value if value is None or type(value) is str else repr(value))
            for name, value in message.__dict__.items()
            if name not in _UNSENT_FIELDS
        ),
        repr(message.model_extra) if message.model_extra else None,
    )


def _build_turn_item(
    message: BaseMessage,
    *,
    kind: ItemKind,
    priority: Priority,
    rank: int,
    group: str | None,
    counter: TokenCounter,
) -> ContextItem:
    message = valid_message(message)
    turn = _as_turn(message)
    turn_id = message_id(message)
    metadata: dict[str, Any] = {"role": message.type}
    created = message.additional_kwargs.get("created_at")
    if created:
        metadata["date"] = str(created)
    if message.name:
        metadata["speaker"] = message.name
    return ContextItem(
        id=turn_id,
        kind=kind,
        content=message_text(turn),
        priority=priority,
        tokens=counter.count_message(turn),
        source=f"turn:{turn_id}",
        trust_level=_TRUST_BY_TYPE.get(message.type),
        metadata=metadata,
        group=group,
        rank=rank,
        message=_turn_dict(turn),
    )


def _turn_items(
    messages: Sequence[BaseMessage], *, kind: ItemKind, priority: Priority, counter: TokenCounter
) -> list[ContextItem]:
    units = turn_units(messages)
    items: list[ContextItem] = []
    for rank, (group, members) in enumerate(reversed(units)):
        items.extend(
            _turn_item(m, kind=kind, priority=priority, rank=rank, group=group, counter=counter)
            for m in members
        )
    return items


def _fact_item(
    fact: Fact, *, rank: int, stale_since: str | None, counter: TokenCounter
) -> ContextItem:
    return _cached_fact_item(fact, rank, stale_since, counter)


# A thread carries its facts from turn to turn, so most of them render and count
# the same on every pack: each (fact, rank, staleness) is built and tokenized
# once. Facts and items are frozen, so sharing the cached item is safe.
@functools.lru_cache(maxsize=8192)
def _cached_fact_item(
    fact: Fact, rank: int, stale_since: str | None, counter: TokenCounter
) -> ContextItem:
    content = f"{fact.subject} {fact.key}: {fact.value}"
    metadata: dict[str, Any] = {"observed_at": fact.observed_at.isoformat(), "scope": fact.scope}
    if stale_since:
        metadata["stale_since"] = stale_since
    priority = Priority.MEDIUM if fact.trust_level is TrustLevel.MODEL_INFERRED else Priority.HIGH
    return data_item(
        ContextItem(
            id=fact.id,
            kind=ItemKind.FACT,
            content=content,
            priority=priority,
            tokens=0,
            source=f"fact:{fact.id}",
            trust_level=fact.trust_level,
            metadata=metadata,
            rank=rank,
        ),
        counter,
    )


def data_item(item: ContextItem, counter: TokenCounter) -> ContextItem:
    """The item with its token count as rendered inside the context message."""
    # Two newlines join blocks inside the context message.
    return item.model_copy(update={"tokens": data_tokens(item, counter)})


def task_text(task: TaskState) -> str:
    """The task state as the lines the package shows."""
    lines = [f"Task: {task.task_name}"]
    if task.current_step:
        lines.append(f"Current step: {task.current_step}")
    lines.extend(f"Entity {name}: {ref}" for name, ref in sorted(task.entity_ids.items()))
    lines.extend(f"Pending question: {q}" for q in task.pending_questions)
    lines.extend(f"Pending approval: {a}" for a in task.pending_approvals)
    return "\n".join(lines)


@functools.lru_cache(maxsize=256)
def _instruction(item_id: str, kind: ItemKind, content: str, counter: TokenCounter) -> ContextItem:
    # The same few texts every turn: each is built and counted once.
    return ContextItem(
        id=item_id,
        kind=kind,
        content=content,
        priority=Priority.CRITICAL,
        tokens=instruction_tokens(kind, content, counter),
        source=f"config:{item_id}",
        trust_level=TrustLevel.SYSTEM_VERIFIED,
    )


def _stale_since(fact: Fact, config: MemoryConfig, now: datetime) -> str | None:
    stale_after = config.stale_after.get(fact.key)
    if stale_after is not None and now - fact.observed_at > stale_after:
        return fact.observed_at.date().isoformat()
    return None


def _durable_items(
    durable: Sequence[Fact],
    thread: Sequence[Fact],
    *,
    start: int,
    config: MemoryConfig,
    counter: TokenCounter,
    now: datetime,
) -> list[ContextItem]:
    """Items for durable facts from earlier threads, in the (relevance) order given.

    The thread's own copy of a fact wins: a fact this thread superseded or
    rejected is excluded through the thread's facts, never revived from memory.
    """
    known = {fact.id for fact in thread}
    usable = [
        f for f in durable if f.id not in known and f.status == "active" and not f.is_expired(now)
    ]
    items = []
    for offset, fact in enumerate(usable):
        item = _fact_item(
            fact, rank=start + offset, stale_since=_stale_since(fact, config, now), counter=counter
        )
        metadata = {**item.metadata, "durable": True}
        items.append(item.model_copy(update={"source": f"memory:{fact.id}", "metadata": metadata}))
    return items


def _reference_items(
    references: Sequence[ResolvedReference], counter: TokenCounter
) -> list[ContextItem]:
    """A CRITICAL clarification per unresolved reference; one item for the resolved ones."""
    items: list[ContextItem] = []
    unclear = [ref for ref in references if ref.requires_clarification]
    for index, ref in enumerate(unclear):
        options = [option if len(option) <= 80 else option[:79] + "…" for option in ref.candidates]
        listed = "; ".join(options[:6]) if options else "none found"
        content = (
            f'The request says "{ref.phrase}", which is ambiguous: {ref.reason}. Candidates: '
            f"{listed}. Ask the user which one they mean before acting; do not guess."
        )
        clarify = ContextItem(
            id=f"clarify-{index}",
            kind=ItemKind.CLARIFICATION,
            content=content,
            priority=Priority.CRITICAL,
            tokens=0,
            source="state:references",
            metadata={"phrase": ref.phrase},
        )
        items.append(data_item(clarify, counter))
    resolved = [ref for ref in references if not ref.requires_clarification and ref.entity_id]
    if resolved:
        lines = [
            f'"{ref.phrase}" refers to {ref.entity_id} ({ref.reason}; '
            f"confidence {ref.confidence:.1f})"
            for ref in resolved
        ]
        items.append(state_item(ItemKind.TASK_STATE, "references", "\n".join(lines), counter))
    return items


def _fact_items(
    facts: Sequence[Fact], *, config: MemoryConfig, counter: TokenCounter, now: datetime
) -> tuple[list[ContextItem], list[ExcludedItem]]:
    items: list[ContextItem] = []
    excluded: list[ExcludedItem] = []
    # Decisions, constraints and rejected assumptions come first however old they
    # are; the rest newest first.
    ordered = sorted(
        facts, key=lambda f: (f.key not in _PINNED_KEYS, -f.observed_at.timestamp(), f.id)
    )
    for rank, fact in enumerate(ordered):
        stale_since = _stale_since(fact, config, now)
        item = _fact_item(fact, rank=rank, stale_since=stale_since, counter=counter)
        if fact.status != "active":
            detail = f"{fact.status}" + (f" by {fact.superseded_by}" if fact.superseded_by else "")
            excluded.append(exclude(item, "superseded", detail))
        elif fact.is_expired(now):
            excluded.append(exclude(item, "stale", f"expired at {fact.expires_at}"))
        else:
            items.append(item)
    return items, excluded


def collect_items(
    state: Mapping[str, Any],
    *,
    identity: Identity,
    config: MemoryConfig,
    counter: TokenCounter,
    now: datetime,
    durable_facts: Sequence[Fact] = (),
) -> tuple[list[ContextItem], list[ExcludedItem]]:
    """Turn the state into candidate items, and the facts that may never be packed.

    Args:
        state: Any state with ``messages``, and optionally ``facts``, ``summary``,
            ``task`` and ``references``.
        identity: Who is calling.
        config: Budgets, texts and shares.
        counter: The token counter.
        now: The time that decides expiry and staleness.
        durable_facts: Facts from the user's durable memory, most relevant first.

    Returns:
        The candidates, and the facts excluded as superseded, rejected or expired.
    """
    _, history, request, in_progress = message_window(state.get("messages") or ())
    rounds = tool_rounds(in_progress)
    if rounds > config.max_tool_rounds:
        raise ToolRoundsExceeded(rounds, config.max_tool_rounds)
    history = history[-config.max_recent_turns :]
    while history and isinstance(history[0], ToolMessage):
        history.pop(0)  # its tool call was cut off by the window: it would be an orphan

    scopes = ", ".join(identity.scopes) or "none"
    items = [
        _instruction("policy", ItemKind.POLICY, config.policy, counter),
        _instruction(
            "authority",
            ItemKind.AUTHORITY,
            f"Tenant: {identity.tenant_id}. User: {identity.user_id}. Scopes: {scopes}.",
            counter,
        ),
        _instruction("output_contract", ItemKind.OUTPUT_CONTRACT, config.output_contract, counter),
    ]
    task = state.get("task")
    if task is not None:
        items.append(state_item(ItemKind.TASK_STATE, "task", task_text(task), counter))
    summary = state.get("summary")
    if summary is not None and (summary.covered_turn_ids or summary.user_goal):
        text = summary_text(summary)
        items.append(state_item(ItemKind.SUMMARY, f"summary-v{summary.version}", text, counter))
    if request is not None:
        items.append(
            _turn_item(
                request,
                kind=ItemKind.REQUEST,
                priority=Priority.CRITICAL,
                rank=0,
                group=None,
                counter=counter,
            )
        )
    items += _turn_items(
        history, kind=ItemKind.RECENT_TURN, priority=Priority.MEDIUM, counter=counter
    )
    # The turn in progress is CRITICAL: a model that does not see its own tool
    # results calls the same tools again (its large results are shortened, not dropped).
    items += _turn_items(
        in_progress, kind=ItemKind.TOOL_RESULT, priority=Priority.CRITICAL, counter=counter
    )
    thread_facts = list(state.get("facts") or ())
    facts, excluded = _fact_items(thread_facts, config=config, counter=counter, now=now)
    facts += _durable_items(
        durable_facts, thread_facts, start=len(facts), config=config, counter=counter, now=now
    )
    items += _reference_items(state.get("references") or (), counter)
    return items + facts, excluded


# The summary, the task and the resolved references read the same from one turn
# to the next until they are rewritten: each text is built and counted once.
@functools.lru_cache(maxsize=512)
def state_item(kind: ItemKind, item_id: str, content: str, counter: TokenCounter) -> ContextItem:
    """An item read from the state (summary, task, references), built and counted once per text."""
    item = ContextItem(
        id=item_id,
        kind=kind,
        content=content,
        priority=Priority.HIGH,
        tokens=0,
        source=f"state:{kind.value}",
        # The task and the resolved references are read from the user's own
        # words, so they are labelled as what the user said, never as verified.
        trust_level=TrustLevel.USER_CLAIMED if kind is ItemKind.TASK_STATE else None,
    )
    return data_item(item, counter)


def exclude(item: ContextItem, reason: ExclusionReason, detail: str = "") -> ExcludedItem:
    """The excluded item's stub (id, size, reason), without its content."""
    # Excluded items are kept as stubs: their ids, sizes and reasons are what the
    # audit needs, and copying their content would make every package grow.
    stub = item.model_copy(update={"content": "", "message": None})
    return ExcludedItem(item=stub, reason=reason, detail=detail)


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(value: Any) -> bool:
    """Whether a value holds a lone surrogate anywhere (strings, mappings, sequences)."""
    # Checks without copying: nearly every item is clean, and only a dirty one
    # is rebuilt by `scrub`. A container is checked as one JSON string (C code;
    # `ensure_ascii=False` leaves a lone surrogate in place), else walked.
    if isinstance(value, str):
        return not value.isascii() and _SURROGATE.search(value) is not None
    if isinstance(value, dict | list | tuple):
        try:
            text = json.dumps(value, ensure_ascii=False, default=repr)
        except (TypeError, ValueError):  # keys that are not strings, cycles
            return _walk_has_surrogate(value)
        return not text.isascii() and _SURROGATE.search(text) is not None
    return False


def _walk_has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_walk_has_surrogate(k) or _walk_has_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_walk_has_surrogate(item) for item in value)
    return False


def scrub(value: Any) -> Any:
    """The value with every lone surrogate replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {scrub(key): scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def valid_message(message: BaseMessage) -> BaseMessage:
    """`valid_text` for a turn (the graph's reducer refuses these; a drop-in state may not)."""
    update: dict[str, Any] = {}
    if has_surrogate(message.content):
        update["content"] = scrub(message.content)
    # Only an AI message has tool calls (a missing attribute costs a pydantic miss).
    calls = message.tool_calls if isinstance(message, AIMessage) else None
    if calls and has_surrogate(calls):
        update["tool_calls"] = scrub(calls)
    return message.model_copy(update=update) if update else message


def valid_text(item: ContextItem) -> ContextItem:
    """Replace lone surrogates (not UTF-8, so unsendable) with U+FFFD.

    Messages are refused with them on the way in (`validate_messages`), but facts
    from the store, extra items, or a drop-in graph's own state can still carry
    one; a memory record with one bad character should not fail every turn.
    """
    if not any(has_surrogate(getattr(item, name)) for name in TEXT_FIELDS):
        return item
    return item.model_copy(update={name: scrub(getattr(item, name)) for name in TEXT_FIELDS})


TEXT_FIELDS = ("id", "content", "source", "group", "metadata", "message")
