"""`summarize`: fold the oldest turns into a structured `SessionSummary`.

The core is pure: `plan_fold` decides whether a trigger fires and which turns
leave the window (never splitting an AI tool call from its results, never the
current request); `summarize_messages` folds them into the summary. The node
archives the folded turns in the store, then removes them from ``messages``
with `RemoveMessage`, so the working window, and each checkpoint, stays bounded.

Example:
    >>> from langchain_core.messages import AIMessage, HumanMessage
    >>> from memorygraph import MemoryConfig, TokenCounter
    >>> config = MemoryConfig(summarize_at_messages=6, keep_messages=2)
    >>> turns = []
    >>> for i in range(4):
    ...     turns += [HumanMessage(f"We decided on option {i}.", id=f"h{i}"),
    ...               AIMessage("ok", id=f"a{i}")]
    >>> update = summarize_messages(turns, previous=None, config=config, counter=TokenCounter())
    >>> update.trigger, [m.id for m in update.folded]
    ('turn_threshold', ['h0', 'a0', 'h1', 'a1', 'h2', 'a2'])
    >>> update.summary.covered_turns, update.summary.last_updated_turn_id
    (6, 'a2')
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext, resolve_identity
from memorygraph.nodes.steps import MemoryStep
from memorygraph.records import SessionSummary
from memorygraph.store.archive import aarchive_turns, archive_digest, archive_turns, to_archived
from memorygraph.summarizers.base import Summarizer
from memorygraph.summarizers.extractive import ExtractiveSummarizer
from memorygraph.tokens import TokenCounter, counter_for
from memorygraph.turns import message_id, message_window, turn_units

__all__ = [
    "FoldPlan",
    "SummaryUpdate",
    "asummarize_messages",
    "make_summarize",
    "plan_fold",
    "summarize",
    "summarize_messages",
    "summary_due",
]

logger = logging.getLogger(__name__)

_EVENT_ORDER = ("correction", "task_change", "approval")


@dataclass(frozen=True)
class FoldPlan:
    """Which turns leave the window, and why."""

    fold: list[BaseMessage] = field(default_factory=list)
    trigger: str | None = None


@dataclass(frozen=True)
class SummaryUpdate:
    """The outcome of a refresh: the new summary and the turns it folded."""

    summary: SessionSummary | None
    folded: list[BaseMessage] = field(default_factory=list)
    trigger: str | None = None


def _trigger(
    window: Sequence[BaseMessage],
    *,
    config: MemoryConfig,
    counter: TokenCounter,
    events: Sequence[str],
) -> str | None:
    if counter.count_messages(window) > config.summarize_at_tokens * config.available_tokens:
        return "token_pressure"
    if config.summarize_at_messages is not None and len(window) > config.summarize_at_messages:
        return "turn_threshold"
    for event in _EVENT_ORDER:
        if event in events and event in config.refresh_on:
            return event
    return None


def plan_fold(
    messages: Sequence[BaseMessage],
    *,
    config: MemoryConfig,
    counter: TokenCounter,
    events: Sequence[str] = (),
) -> FoldPlan:
    """Decide whether to fold, and which of the oldest turns to fold.

    The newest turns stay, up to ``keep_messages`` messages and ``keep_tokens``
    of the available tokens, whichever comes first. The current request (the
    last human message) and everything after it always stay. An AI tool call and
    all of its results leave or stay together.

    Args:
        messages: The working window.
        config: Triggers and the keep targets.
        counter: Token counter (cached per message).
        events: Memory events since the last refresh.

    Returns:
        The turns to fold (oldest first, possibly none) and the trigger.
    """
    split = message_window(messages)
    window = split.messages
    trigger = _trigger(window, config=config, counter=counter, events=events)
    if trigger is None:
        return FoldPlan()
    request = split.request_index  # without a human message, every turn may fold
    kept_tokens = sum(counter.count_message(m) for m in window[request:])
    kept_count = len(window) - request
    budget = config.keep_tokens * config.available_tokens
    units = turn_units(window[:request])
    cut = len(units)
    while cut > 0:
        unit_tokens = sum(counter.count_message(m) for m in units[cut - 1][1])
        if kept_count >= config.keep_messages or kept_tokens + unit_tokens > budget:
            break
        kept_tokens += unit_tokens
        kept_count += len(units[cut - 1][1])
        cut -= 1
    return FoldPlan([m for _, members in units[:cut] for m in members], trigger)


def summary_due(state: Mapping[str, Any], *, config: MemoryConfig, counter: TokenCounter) -> bool:
    """Whether ``summarize`` would change the state: events to consume, or turns to fold.

    The ready-made graph goes from ``extract_facts`` straight to ``pack_context``
    when it would not: on most turns nothing is due, and the node's step (a
    checkpoint, its writes) would save the state unchanged.

    Args:
        state: The state after ``extract_facts``.
        config: The triggers and keep targets ``summarize`` uses.
        counter: The token counter ``summarize`` uses.

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> from memorygraph import MemoryConfig
        >>> from memorygraph.tokens import counter_for
        >>> config = MemoryConfig()
        >>> state = {"messages": [HumanMessage("hi", id="1")]}
        >>> summary_due(state, config=config, counter=counter_for(config))
        False
        >>> summary_due({**state, "memory_events": ["correction"]}, config=config,
        ...             counter=counter_for(config))
        True
    """
    if state.get("memory_events"):
        return True
    plan = plan_fold(state.get("messages") or [], config=config, counter=counter)
    return bool(plan.fold)


def _stamp(
    content: SessionSummary,
    previous: SessionSummary | None,
    folded: Sequence[BaseMessage],
    trigger: str | None,
) -> SessionSummary:
    before = previous or SessionSummary()
    ids = [message_id(m) for m in folded]
    data = content.model_dump(exclude=_STAMPED)
    return SessionSummary(
        **data,
        covered_turn_ids=ids,
        last_updated_turn_id=ids[-1],
        covered_turns=before.covered_turns + len(ids),
        version=before.version + 1,
        trigger=trigger,
        archive_digest=_digest(before, folded),
    )


_STAMPED = {
    "covered_turn_ids",
    "last_updated_turn_id",
    "covered_turns",
    "version",
    "trigger",
    "archive_digest",
}
"""What the node sets on a refreshed summary; a summarizer's values are ignored."""


def _digest(before: SessionSummary, folded: Sequence[BaseMessage]) -> str | None:
    # The archive's digest once the folded turns are added, as they will be
    # stored. A summary written before digests existed has none to chain on.
    if before.covered_turns and before.archive_digest is None:
        return None
    turns = to_archived(folded, start_seq=before.covered_turns, summary_version=before.version + 1)
    return archive_digest(before.archive_digest if before.covered_turns else None, turns)


def summarize_messages(
    messages: Sequence[BaseMessage],
    *,
    previous: SessionSummary | None,
    config: MemoryConfig,
    counter: TokenCounter,
    summarizer: Summarizer | None = None,
    events: Sequence[str] = (),
) -> SummaryUpdate:
    """Fold the oldest turns into the summary when a trigger fires.

    Args:
        messages: The working window.
        previous: The summary so far.
        config: Triggers, keep targets and list sizes.
        counter: Token counter.
        summarizer: Defaults to the offline `ExtractiveSummarizer`.
        events: Memory events since the last refresh.

    Returns:
        The new summary (None when nothing was folded) and the folded turns.
    """
    plan = plan_fold(messages, config=config, counter=counter, events=events)
    if not plan.fold:
        return SummaryUpdate(None, [], plan.trigger)
    content = (summarizer or ExtractiveSummarizer()).summarize(
        previous, plan.fold, max_items=config.summary_max_items
    )
    return SummaryUpdate(
        _stamp(content, previous, plan.fold, plan.trigger), plan.fold, plan.trigger
    )


async def asummarize_messages(
    messages: Sequence[BaseMessage],
    *,
    previous: SessionSummary | None,
    config: MemoryConfig,
    counter: TokenCounter,
    summarizer: Summarizer | None = None,
    events: Sequence[str] = (),
) -> SummaryUpdate:
    """Async twin of `summarize_messages`."""
    plan = plan_fold(messages, config=config, counter=counter, events=events)
    if not plan.fold:
        return SummaryUpdate(None, [], plan.trigger)
    content = await (summarizer or ExtractiveSummarizer()).asummarize(
        previous, plan.fold, max_items=config.summary_max_items
    )
    return SummaryUpdate(
        _stamp(content, previous, plan.fold, plan.trigger), plan.fold, plan.trigger
    )


def make_summarize(
    config: MemoryConfig | None = None,
    *,
    summarizer: Summarizer | None = None,
    counter: TokenCounter | None = None,
) -> MemoryStep:
    """Make a ``summarize`` node (sync and async; async awaits the summarizer and the store).

    Args:
        config: Triggers and keep targets (defaults to ``MemoryConfig()``).
        summarizer: ``ExtractiveSummarizer()`` (offline, the default) or
            ``LLMSummarizer(model)``.
        counter: Token counter to share with other nodes.

    Returns:
        A node that folds old turns into ``summary``, archives them in the store
        and removes them from ``messages``. Without a store it folds nothing
        (turns are never dropped without being archived) and logs a warning
        once; the graphs refuse a checkpointer without a store
        (`memorygraph.graph._bound`).
    """
    memory_config = config or MemoryConfig()
    engine = summarizer or ExtractiveSummarizer()
    # One counter for the node's life (shared with the other nodes' defaults):
    # the window's counts stay cached from turn to turn.
    tokens = counter or counter_for(memory_config)
    warned: list[bool] = []  # the no-store warning is logged once per node, not every turn

    def summarize(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        events, consumed = _events(state)
        if runtime.store is None:
            _warn_once(warned)
            return consumed
        previous = state.get("summary")
        update = summarize_messages(
            state.get("messages") or [],
            previous=previous,
            config=memory_config,
            counter=tokens,
            summarizer=engine,
            events=events,
        )
        if update.summary is None:
            return consumed
        archive_turns(
            runtime.store, **_archive_args(config, runtime, previous, update.folded, update.summary)
        )
        return _folded(consumed, update)

    async def asummarize(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        events, consumed = _events(state)
        if runtime.store is None:
            _warn_once(warned)
            return consumed
        previous = state.get("summary")
        update = await asummarize_messages(
            state.get("messages") or [],
            previous=previous,
            config=memory_config,
            counter=tokens,
            summarizer=engine,
            events=events,
        )
        if update.summary is None:
            return consumed
        await aarchive_turns(
            runtime.store, **_archive_args(config, runtime, previous, update.folded, update.summary)
        )
        return _folded(consumed, update)

    return MemoryStep("summarize", summarize, asummarize)


_NO_STORE = (
    "summarize needs a store to archive old turns; nothing is folded in this graph "
    "(logged once). Pass store=open_store(url) to keep the working window bounded."
)


def _warn_once(warned: list[bool]) -> None:
    if not warned:
        warned.append(True)
        logger.warning(_NO_STORE)


def _events(state: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    events = list(state.get("memory_events") or ())
    return events, ({"memory_events": Overwrite([])} if events else {})


def _archive_args(
    config: RunnableConfig,
    runtime: Runtime[MemoryContext],
    previous: SessionSummary | None,
    folded: list[BaseMessage],
    summary: SessionSummary,
) -> dict[str, Any]:
    """`archive_turns`' arguments after the store."""
    identity = resolve_identity(runtime.context, config)
    return {
        "thread": (identity.tenant_id, identity.user_id, identity.thread_id),
        "messages": folded,
        "start_seq": previous.covered_turns if previous is not None else 0,
        "summary_version": summary.version,
    }


def _folded(consumed: dict[str, Any], update: SummaryUpdate) -> dict[str, Any]:
    removals = [RemoveMessage(id=message_id(m)) for m in update.folded]
    return {**consumed, "summary": update.summary, "messages": removals}


summarize = make_summarize()
"""The ``summarize`` node with the default `MemoryConfig` and the extractive summarizer."""
