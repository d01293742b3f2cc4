"""`extract_facts`: read the turns after the watermark, and keep what they establish.

The core, `extract_facts_from` (and its twin `aextract_facts_from`), runs an
extractor over the new turns (`new_turns`) and hands its claims to the
reconciler, `memorygraph.facts.reconcile`, where the invariants live whatever
the extractor: trust capped by who spoke, corrections supersede, rejected
assumptions need new evidence, retractions guard what they retired, and facts
worth keeping cross the memory boundary (`memorygraph.facts.candidates`) as
candidates. The node reads the state and the user's durable facts, calls the
core, writes the candidates that need no approval, and returns the changed keys.

Example:
    >>> from datetime import UTC, datetime
    >>> from langchain_core.messages import HumanMessage
    >>> turns = [HumanMessage("I live in Lisbon.", id="h1"),
    ...          HumanMessage("Actually, I moved to Porto.", id="h2")]
    >>> update = extract_facts_from(turns, now=datetime(2026, 1, 5, tzinfo=UTC))
    >>> [(f.value, f.status) for f in update.facts]
    [('Lisbon', 'superseded'), ('Porto', 'active')]
    >>> update.events, update.watermark
    (['correction'], 'h2')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext, resolve_identity
from memorygraph.extractors.base import Extraction, FactExtractor
from memorygraph.extractors.rule_based import RuleBasedExtractor
from memorygraph.facts.candidates import candidate_for
from memorygraph.facts.reconcile import FactUpdate, reconcile
from memorygraph.nodes.steps import MemoryStep
from memorygraph.records import Fact, MemoryCandidate, TaskState
from memorygraph.store.facts import aload_facts, aput_facts, load_facts, put_facts
from memorygraph.turns import message_id, message_window

__all__ = [
    "FactUpdate",
    "aextract_facts_from",
    "candidate_for",
    "extract_facts",
    "extract_facts_from",
    "make_extract_facts",
    "new_turns",
    "reconcile",
]


# ---------------------------------------------------------------------- which turns


def new_turns(messages: Sequence[BaseMessage], watermark: str | None) -> list[BaseMessage]:
    """Return the messages after the watermark: the only ones extraction reads.

    When the watermark message is no longer in the window (something removed
    it), only the current request and what follows it count as new: reading the
    whole window again could re-assert what was corrected since.

    Example:
        >>> from langchain_core.messages import AIMessage, HumanMessage
        >>> turns = [HumanMessage("a", id="1"), AIMessage("b", id="2"), HumanMessage("c", id="3")]
        >>> [m.id for m in new_turns(turns, "1")], [m.id for m in new_turns(turns, "gone")]
        (['2', '3'], ['3'])
    """
    split = message_window(messages)
    window = split.messages
    if watermark is None:
        return window
    ids = [message_id(m) for m in window]
    if watermark in ids:
        return window[ids.index(watermark) + 1 :]
    return window[split.request_index :]


def extract_facts_from(
    messages: Sequence[BaseMessage],
    *,
    extractor: FactExtractor | None = None,
    facts: Sequence[Fact] = (),
    durable: Sequence[Fact] = (),
    pending: Sequence[MemoryCandidate] = (),
    task: TaskState | None = None,
    watermark: str | None = None,
    config: MemoryConfig | None = None,
    now: datetime | None = None,
    remember: bool = True,
) -> FactUpdate:
    """Extract facts from the turns after ``watermark`` and reconcile them.

    Args:
        messages: The thread's window of messages.
        extractor: The extractor; `RuleBasedExtractor` by default.
        facts: The thread's facts so far.
        durable: The user's durable facts, so corrections can reach them.
        pending: Candidates still waiting for a human.
        task: The active task.
        watermark: The id of the last message already read.
        config: Expiry and approval settings.
        now: The current time.
        remember: Whether durable memory is available.

    Returns:
        A `FactUpdate`; ``update.state_update(state)`` is the node's return value.
    """
    turns = new_turns(messages, watermark)
    moment = now or datetime.now(UTC)
    extraction = (
        (extractor or RuleBasedExtractor()).extract(turns, existing=[*facts, *durable], now=moment)
        if turns
        else Extraction()
    )
    return reconcile(
        extraction,
        messages=messages,
        turns=turns,
        facts=facts,
        durable=durable,
        pending=pending,
        task=task,
        watermark=watermark,
        config=config,
        now=moment,
        remember=remember,
    )


async def aextract_facts_from(
    messages: Sequence[BaseMessage],
    *,
    extractor: FactExtractor | None = None,
    facts: Sequence[Fact] = (),
    durable: Sequence[Fact] = (),
    pending: Sequence[MemoryCandidate] = (),
    task: TaskState | None = None,
    watermark: str | None = None,
    config: MemoryConfig | None = None,
    now: datetime | None = None,
    remember: bool = True,
) -> FactUpdate:
    """Async twin of `extract_facts_from` (it awaits the extractor)."""
    turns = new_turns(messages, watermark)
    moment = now or datetime.now(UTC)
    chosen = extractor or RuleBasedExtractor()
    extraction = (
        await chosen.aextract(turns, existing=[*facts, *durable], now=moment)
        if turns
        else Extraction()
    )
    return reconcile(
        extraction,
        messages=messages,
        turns=turns,
        facts=facts,
        durable=durable,
        pending=pending,
        task=task,
        watermark=watermark,
        config=config,
        now=moment,
        remember=remember,
    )


# ----------------------------------------------------------------------------- node


def make_extract_facts(
    config: MemoryConfig | None = None,
    *,
    extractor: FactExtractor | None = None,
    clock: Callable[[], datetime] | None = None,
) -> MemoryStep:
    """Make an ``extract_facts`` node (sync and async) with its own extractor.

    The node reads the user's durable facts from ``runtime.store`` (when the
    graph has a store), runs `extract_facts_from`, writes the candidates that
    need no approval, and returns the changed keys. Without a store nothing
    is proposed for durable memory.

    Args:
        config: Expiry and approval settings (defaults to ``MemoryConfig()``).
        extractor: `RuleBasedExtractor` (the default) or `LLMExtractor`.
        clock: Returns "now"; tests pass a fixed clock.

    Returns:
        A runnable node for ``StateGraph.add_node``.
    """
    memory_config = config or MemoryConfig()
    chosen: FactExtractor = extractor or RuleBasedExtractor()

    def _inputs(state: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "facts": state.get("facts") or (),
            "pending": state.get("pending") or (),
            "task": state.get("task"),
            "watermark": state.get("extracted_through"),
            "config": memory_config,
            "now": clock() if clock else datetime.now(UTC),
            "extractor": chosen,
        }

    def extract_facts(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        identity = resolve_identity(runtime.context, config)
        store = runtime.store
        inputs = _inputs(state)
        durable = (
            load_facts(
                store,
                identity.tenant_id,
                identity.user_id,
                limit=memory_config.durable_scan_limit,
                now=inputs["now"],
            )
            if store is not None
            else []
        )
        update = extract_facts_from(
            state.get("messages") or [], durable=durable, remember=store is not None, **inputs
        )
        if store is not None and update.write:
            put_facts(
                store,
                identity.tenant_id,
                identity.user_id,
                update.write,
                approved_by="policy",
                candidate_ids={c.fact.id: c.id for c in update.candidates},
                ttl=memory_config.facts_ttl,
                thread_id=identity.thread_id,
            )
        return update.state_update(state)

    async def aextract_facts(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        identity = resolve_identity(runtime.context, config)
        store = runtime.store
        inputs = _inputs(state)
        durable = (
            await aload_facts(
                store,
                identity.tenant_id,
                identity.user_id,
                limit=memory_config.durable_scan_limit,
                now=inputs["now"],
            )
            if store is not None
            else []
        )
        update = await aextract_facts_from(
            state.get("messages") or [], durable=durable, remember=store is not None, **inputs
        )
        if store is not None and update.write:
            await aput_facts(
                store,
                identity.tenant_id,
                identity.user_id,
                update.write,
                approved_by="policy",
                candidate_ids={c.fact.id: c.id for c in update.candidates},
                ttl=memory_config.facts_ttl,
                thread_id=identity.thread_id,
            )
        return update.state_update(state)

    return MemoryStep("extract_facts", extract_facts, aextract_facts)


extract_facts = make_extract_facts()
"""The ``extract_facts`` node with the rule-based extractor and the default config."""
