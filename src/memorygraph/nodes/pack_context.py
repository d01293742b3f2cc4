"""`pack_context`: build the one deterministic, budgeted package for a model call.

The core is three pure steps, each testable on its own:

1. `collect_items` turns the state into candidate `ContextItem`s.
2. `filter_items` drops what the caller may not see, before any packing.
3. `pack_items` fits the rest into the budget, and fails closed.

`build_package` runs the three and returns a `ContextPackage`; the node around it
only resolves who is calling and writes ``context_package``.

Example:
    >>> from langchain_core.messages import AIMessage, HumanMessage
    >>> from memorygraph import MemoryConfig
    >>> from memorygraph.context import Identity
    >>> state = {"messages": [HumanMessage("hi", id="h1"), AIMessage("hello", id="a1"),
    ...                       HumanMessage("What did I say?", id="h2")]}
    >>> who = Identity(thread_id="t1", tenant_id="acme", user_id="ana", scopes=())
    >>> package = build_package(state, identity=who, config=MemoryConfig())
    >>> [item.kind.value for item in package.items]
    ['policy', 'authority', 'request', 'recent_turn', 'recent_turn', 'output_contract']
    >>> package.to_messages()[-1].content
    'What did I say?'
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
    message_to_dict,
)
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore
from pydantic import ValidationError

from memorygraph._render import CONTEXT_HEADER, SYSTEM_KINDS, safe_turn
from memorygraph._turns import message_id, message_text, split_turn, tool_rounds, turn_units
from memorygraph.config import MemoryConfig
from memorygraph.context import Identity, MemoryContext, resolve_identity
from memorygraph.errors import (
    ContextBudgetExceeded,
    InvalidMessageError,
    ToolRoundsExceeded,
    validation_message,
)
from memorygraph.nodes._steps import MemoryStep
from memorygraph.packing.summary import fit_summary_text, summary_text
from memorygraph.packing.truncation import shorten_tool_results
from memorygraph.records import (
    RENDER_ORDER,
    ContextItem,
    ContextPackage,
    ExcludedItem,
    ExclusionReason,
    Fact,
    ItemKind,
    Priority,
    ResolvedReference,
    SessionSummary,
    TaskState,
    TrustLevel,
)
from memorygraph.retrieval import Retriever, arecall_items, default_retriever, recall_items
from memorygraph.store.audit import arecord_package_inputs, record_package_inputs
from memorygraph.store.facts import asearch_facts, search_facts
from memorygraph.store.threads import aregister_thread, register_thread
from memorygraph.tokens import TokenCounter, shared_counter

__all__ = [
    "abuild_package",
    "adapt_shares",
    "build_package",
    "collect_items",
    "filter_items",
    "make_pack_context",
    "pack_context",
    "pack_items",
]

# Kinds packed newest first without gaps: dropping an older turn while keeping a
# newer one would leave the model a conversation with holes in it.
_CONTIGUOUS = frozenset({ItemKind.RECENT_TURN, ItemKind.TOOL_RESULT})
_TRUST_BY_TYPE = {
    "human": TrustLevel.USER_CLAIMED,
    "ai": TrustLevel.MODEL_INFERRED,
    "tool": TrustLevel.TOOL_OBSERVED,
    "system": TrustLevel.USER_CLAIMED,
}


# --------------------------------------------------------------------------- collect


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
    message = _valid_message(message)
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
    return _data_item(
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


def _data_item(item: ContextItem, counter: TokenCounter) -> ContextItem:
    from memorygraph._render import render_block

    # Two newlines join blocks inside the context message.
    return item.model_copy(update={"tokens": counter.count_text(render_block(item) + "\n\n")})


def _task_text(task: TaskState) -> str:
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
        tokens=counter.count_text(f"[{kind.value}]\n{content}\n\n"),
        source=f"config:{item_id}",
        trust_level=TrustLevel.SYSTEM_VERIFIED,
    )


_PINNED_KEYS = frozenset({"do_not_assume", "constraint", "decision"})


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
        items.append(_data_item(clarify, counter))
    resolved = [ref for ref in references if not ref.requires_clarification and ref.entity_id]
    if resolved:
        lines = [
            f'"{ref.phrase}" refers to {ref.entity_id} ({ref.reason}; '
            f"confidence {ref.confidence:.1f})"
            for ref in resolved
        ]
        items.append(_state_item(ItemKind.TASK_STATE, "references", "\n".join(lines), counter))
    return items


def _fact_items(
    facts: Sequence[Fact], *, config: MemoryConfig, counter: TokenCounter, now: datetime
) -> tuple[list[ContextItem], list[ExcludedItem]]:
    items: list[ContextItem] = []
    excluded: list[ExcludedItem] = []
    # Decisions, constraints and rejected assumptions come first however old they
    # are (seed 003 section 13); the rest newest first.
    ordered = sorted(
        facts, key=lambda f: (f.key not in _PINNED_KEYS, -f.observed_at.timestamp(), f.id)
    )
    for rank, fact in enumerate(ordered):
        stale_since = _stale_since(fact, config, now)
        item = _fact_item(fact, rank=rank, stale_since=stale_since, counter=counter)
        if fact.status != "active":
            detail = f"{fact.status}" + (f" by {fact.superseded_by}" if fact.superseded_by else "")
            excluded.append(_exclude(item, "superseded", detail))
        elif fact.is_expired(now):
            excluded.append(_exclude(item, "stale", f"expired at {fact.expires_at}"))
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
    messages = [m for m in state.get("messages") or () if not isinstance(m, RemoveMessage)]
    history, request, in_progress = split_turn(messages)
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
        items.append(_state_item(ItemKind.TASK_STATE, "task", _task_text(task), counter))
    summary = state.get("summary")
    if summary is not None and (summary.covered_turn_ids or summary.user_goal):
        text = summary_text(summary)
        items.append(_state_item(ItemKind.SUMMARY, f"summary-v{summary.version}", text, counter))
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
def _state_item(kind: ItemKind, item_id: str, content: str, counter: TokenCounter) -> ContextItem:
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
    return _data_item(item, counter)


# ---------------------------------------------------------------------------- filter


def _exclude(item: ContextItem, reason: ExclusionReason, detail: str = "") -> ExcludedItem:
    # Excluded items are kept as stubs: their ids, sizes and reasons are what the
    # audit needs, and copying their content would make every package grow.
    stub = item.model_copy(update={"content": "", "message": None})
    return ExcludedItem(item=stub, reason=reason, detail=detail)


def filter_items(
    items: Sequence[ContextItem], *, scopes: Sequence[str]
) -> tuple[list[ContextItem], list[ExcludedItem]]:
    """Drop items that need a scope the caller does not hold.

    Example:
        >>> from memorygraph.records import ContextItem, Priority
        >>> doc = ContextItem(id="d1", kind="recalled", content="salary data",
        ...     priority=Priority.HIGH, tokens=3, source="doc:d1", required_scope="hr")
        >>> kept, dropped = filter_items([doc], scopes=["sales"])
        >>> kept, dropped[0].reason
        ([], 'unauthorized')
    """
    held = set(scopes)
    kept: list[ContextItem] = []
    excluded: list[ExcludedItem] = []
    for item in items:
        if item.required_scope is not None and item.required_scope not in held:
            excluded.append(_exclude(item, "unauthorized", f"needs scope {item.required_scope}"))
        else:
            kept.append(item)
    return kept, excluded


# ------------------------------------------------------------------------------ pack


@dataclass
class _Unit:
    key: str
    items: list[ContextItem] = field(default_factory=list)
    kind: ItemKind = ItemKind.FACT
    tokens: int = 0
    order: tuple[int, str, int, str] = (0, "", 0, "")
    data: bool = False  # renders inside the context message


def _is_data(item: ContextItem) -> bool:
    # Neither a trusted instruction nor a native turn: quoted in the context message.
    return item.message is None and item.kind not in SYSTEM_KINDS


def _units(items: Sequence[ContextItem]) -> list[_Unit]:
    units: dict[str, _Unit] = {}
    for item in items:
        key = item.unit
        unit = units.get(key)
        if unit is None:
            unit = units[key] = _Unit(key, kind=item.kind)
        unit.items.append(item)
    # Each unit's size and order are computed once: the two passes and their
    # sorts read them for every unit. Most units are one item.
    for unit in units.values():
        first, *rest = unit.items
        tokens, priority, rank = first.tokens, first.priority, first.rank
        for item in rest:
            tokens += item.tokens
            priority, rank = max(priority, item.priority), min(rank, item.rank)
        unit.tokens = tokens
        unit.order = (-priority, unit.kind, rank, unit.key)
        unit.data = any(_is_data(item) for item in unit.items)
    return sorted(units.values(), key=lambda unit: unit.order)


def adapt_shares(config: MemoryConfig, *, archived: int, window: int) -> dict[str, float]:
    """The shares for one package: recall's grows with the part of the thread only recall sees.

    A thread whose turns are mostly in the archive is mostly out of the other
    kinds' reach, so recall's share grows from ``shares["recalled"]`` toward
    ``recall_share_max`` by the archive's part of the thread (archived turns
    over archived plus window turns), and every other kind's share shrinks in
    proportion to pay for it. A thread with no archive keeps the configured
    shares; in either case, what a kind leaves unused still flows to the others
    in `pack_items`' second pass.

    Args:
        config: The configured shares and ``recall_share_max``.
        archived: Turns in the thread's archive (``summary.covered_turns``).
        window: Messages in the working window.

    Returns:
        The shares, by kind.

    Example:
        >>> from memorygraph import MemoryConfig
        >>> shares = adapt_shares(MemoryConfig(), archived=600, window=20)
        >>> round(shares["recalled"], 3), round(shares["recent_turn"], 3)
        (0.684, 0.119)
        >>> adapt_shares(MemoryConfig(), archived=0, window=20) == MemoryConfig().shares
        True
    """
    shares = dict(config.shares)
    base = shares.get(ItemKind.RECALLED.value, 0.0)
    others = sum(share for kind, share in shares.items() if kind != ItemKind.RECALLED.value)
    if archived <= 0 or config.recall_share_max <= base or others <= 0:
        return shares
    pull = archived / (archived + max(window, 0))
    grown = min(base + pull * (config.recall_share_max - base), base + others)
    keep = 1.0 - (grown - base) / others
    adapted = {kind: share * keep for kind, share in shares.items()}
    adapted[ItemKind.RECALLED.value] = grown
    return adapted


def pack_items(
    items: Sequence[ContextItem],
    *,
    config: MemoryConfig,
    overhead: int = 0,
    shares: Mapping[str, float] | None = None,
    counter: TokenCounter | None = None,
    context_overhead: int = 0,
) -> tuple[list[ContextItem], list[ExcludedItem]]:
    """Fit items into the budget by priority, within each kind's share; fail closed.

    What gives way, last first (docs/architecture.md, "What gives way"):

    1. CRITICAL items (policy, authority, the current request, the turn in
       progress, clarifications, the output contract) always go in. When they
       do not fit, the turn in progress's largest tool results are shortened,
       visibly (`memorygraph.packing.truncation`); when even that cannot make
       them fit, `ContextBudgetExceeded` is raised.
    2. The summary goes in next whenever it fits beside them.
    3. Other items are taken in order of (priority, kind, rank, id): first
       within their kind's share of the available tokens, then, in a second
       pass, from whatever the shares left unused, the kinds with larger shares
       first within a priority.

    Items with the same ``group`` go in or out together, and recent turns are
    kept newest first without gaps.

    Args:
        items: Candidates, already filtered for authorization.
        config: The budget and the shares.
        overhead: Tokens the rendering adds around the items.
        shares: The shares to pack by (`adapt_shares`); ``config.shares`` by default.
        counter: Counts shortened tool results; one for ``config.encoding`` by default.
        context_overhead: Tokens the context message adds around the data items,
            paid once, by the first one packed.

    Returns:
        The included items in render order, and the excluded ones.

    Raises:
        ContextBudgetExceeded: When the CRITICAL items do not fit, even with the
            turn's tool results shortened.
    """
    available = config.available_tokens
    weights = config.shares if shares is None else shares
    caps = {ItemKind(kind): int(share * available) for kind, share in weights.items()}
    critical = [item for item in items if item.priority is Priority.CRITICAL]
    # The context message's header is paid once, by the first data item packed.
    header = 0 if any(_is_data(item) for item in critical) else context_overhead
    used = overhead + sum(item.tokens for item in critical) + (context_overhead - header)
    if used > available:
        shortened = _shorten_turn(critical, used, config, counter)
        used -= sum(item.tokens for item in critical) - sum(item.tokens for item in shortened)
        critical = shortened
    fill = _Fill(available=available, used=used, header=header, included=list(critical))
    units = _units([item for item in items if item.priority is not Priority.CRITICAL])
    # The summary stands for every folded turn: nothing but the critical items
    # may push it out, whatever the shares say.
    excluded = [
        _exclude(item, "over_budget")
        for unit in units
        if unit.kind is ItemKind.SUMMARY and not fill.take(unit)
        for item in unit.items
    ]
    units = [unit for unit in units if unit.kind is not ItemKind.SUMMARY]
    deferred, duplicates = _first_pass(fill, units, caps)
    excluded += duplicates
    excluded += _second_pass(fill, deferred, weights)
    return _render_order(fill.included), excluded


@dataclass
class _Fill:
    """The package as it fills: what is in, the tokens used, each kind's spend."""

    available: int
    used: int
    header: int  # the context message's header, until a data item has paid it
    included: list[ContextItem]
    spent: dict[ItemKind, int] = field(default_factory=dict)

    def fits(self, unit: _Unit) -> bool:
        return self.used + unit.tokens + (self.header if unit.data else 0) <= self.available

    def take(self, unit: _Unit) -> bool:
        """Pack the unit if it fits the budget; say whether it did."""
        if not self.fits(unit):
            return False
        self.used += unit.tokens + (self.header if unit.data else 0)
        if unit.data:
            self.header = 0
        self.included.extend(unit.items)
        self.spent[unit.kind] = self.spent.get(unit.kind, 0) + unit.tokens
        return True


def _first_pass(
    fill: _Fill, units: Sequence[_Unit], caps: Mapping[ItemKind, int]
) -> tuple[list[_Unit], list[ExcludedItem]]:
    # Each kind within its share; what does not fit waits for the second pass.
    closed: set[ItemKind] = set()
    deferred: list[_Unit] = []
    excluded: list[ExcludedItem] = []
    shown = _recent_in_share(units, caps.get(ItemKind.RECENT_TURN, 0))
    for unit in units:
        if unit.kind is ItemKind.RECALLED and not shown.isdisjoint(_recalled_turns(unit.items)):
            # A window turn that recall ranked, and that the recent turns show anyway.
            excluded += [_exclude(item, "duplicate") for item in unit.items]
            continue
        fits_share = fill.spent.get(unit.kind, 0) + unit.tokens <= caps.get(unit.kind, 0)
        if unit.kind not in closed and fits_share and fill.take(unit):
            continue
        if unit.kind in _CONTIGUOUS:
            closed.add(unit.kind)
        deferred.append(unit)
    return deferred, excluded


def _second_pass(
    fill: _Fill, deferred: list[_Unit], weights: Mapping[str, float]
) -> list[ExcludedItem]:
    # Shares a kind did not use flow to what did not fit; a larger share says a
    # kind matters more, so it is served first within a priority.
    deferred.sort(key=lambda unit: (unit.order[0], -weights.get(unit.kind, 0.0), unit.order))
    closed: set[ItemKind] = set()
    excluded: list[ExcludedItem] = []
    recalled = _recalled_turns(fill.included)
    for unit in deferred:
        if unit.kind is ItemKind.RECENT_TURN and not recalled.isdisjoint(
            item.id for item in unit.items
        ):
            # Recalled already, from the window: older recent turns would leave a gap.
            closed.add(unit.kind)
            excluded += [_exclude(item, "duplicate") for item in unit.items]
            continue
        if unit.kind not in closed and fill.take(unit):
            recalled |= _recalled_turns(unit.items)
            continue
        if unit.kind in _CONTIGUOUS:
            closed.add(unit.kind)
        excluded += [_exclude(item, "over_budget") for item in unit.items]
    return excluded


def _shorten_turn(
    critical: list[ContextItem], used: int, config: MemoryConfig, counter: TokenCounter | None
) -> list[ContextItem]:
    # The critical items do not fit: the turn in progress's tool results give way
    # first, shortened visibly; then the package fails closed.
    available = config.available_tokens
    shortened = shorten_tool_results(
        critical, used - available, counter=counter or _default_counter(config)
    )
    if shortened is None:
        raise ContextBudgetExceeded(
            sorted(item.id for item in critical), needed=used, available=available
        )
    return shortened


def _recent_in_share(units: Sequence[_Unit], cap: int) -> set[str]:
    # The recent turns the first pass will pack: newest first, while they fit
    # their share (recalled items are packed before them, so this is worked
    # out ahead).
    shown: set[str] = set()
    spent = 0
    for unit in units:
        if unit.kind is not ItemKind.RECENT_TURN:
            continue
        if spent + unit.tokens > cap:
            break
        spent += unit.tokens
        shown.update(item.id for item in unit.items)
    return shown


def _recalled_turns(items: Sequence[ContextItem]) -> set[str]:
    # The message ids of the turns that recalled items show.
    return {
        str(turn_id)
        for item in items
        if item.kind is ItemKind.RECALLED
        for turn_id in item.metadata.get("turn_ids") or ()
    }


def _render_order(items: Sequence[ContextItem]) -> list[ContextItem]:
    def key(item: ContextItem) -> tuple[int, int, int, str]:
        if item.kind in _CONTIGUOUS:
            # oldest first, so the conversation reads in order
            return (RENDER_ORDER[item.kind], -item.rank, 0, item.id)
        if item.kind is ItemKind.RECALLED:
            # packed by relevance, read in the order it was said
            return (RENDER_ORDER[item.kind], 0, int(item.metadata.get("seq", 0)), item.id)
        return (RENDER_ORDER[item.kind], -item.priority, item.rank, item.id)

    return sorted(items, key=key)


# ----------------------------------------------------------------------------- build


def _sort_within_group(items: list[ContextItem], source_order: dict[str, int]) -> list[ContextItem]:
    # Inside one tool-call group the AI message must precede its results.
    return sorted(items, key=lambda item: source_order.get(item.id, 0))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(value: Any) -> bool:
    # Checks without copying: nearly every item is clean, and only a dirty one
    # is rebuilt by `_scrub`. A container is checked as one JSON string (C code;
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


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _valid_message(message: BaseMessage) -> BaseMessage:
    """`_valid_text` for a turn (the graph's reducer refuses these; a drop-in state may not)."""
    update: dict[str, Any] = {}
    if _has_surrogate(message.content):
        update["content"] = _scrub(message.content)
    # Only an AI message has tool calls (a missing attribute costs a pydantic miss).
    calls = message.tool_calls if isinstance(message, AIMessage) else None
    if calls and _has_surrogate(calls):
        update["tool_calls"] = _scrub(calls)
    return message.model_copy(update=update) if update else message


def _valid_text(item: ContextItem) -> ContextItem:
    """Replace lone surrogates (not UTF-8, so unsendable) with U+FFFD.

    Messages are refused with them on the way in (`validate_messages`), but facts
    from the store, extra items, or a drop-in graph's own state can still carry
    one; a memory record with one bad character should not fail every turn.
    """
    if not any(_has_surrogate(getattr(item, name)) for name in _TEXT_FIELDS):
        return item
    return item.model_copy(update={name: _scrub(getattr(item, name)) for name in _TEXT_FIELDS})


_TEXT_FIELDS = ("id", "content", "source", "group", "metadata", "message")


def build_package(
    state: Mapping[str, Any],
    *,
    identity: Identity,
    config: MemoryConfig,
    counter: TokenCounter | None = None,
    now: datetime | None = None,
    extra_items: Sequence[ContextItem] = (),
    durable_facts: Sequence[Fact] = (),
) -> ContextPackage:
    """Build the context package for the next model call.

    Args:
        state: Any state with ``messages`` (and optionally ``facts``, ``summary``,
            ``task``).
        identity: Who is calling, and on which thread.
        config: Budgets, shares and texts.
        counter: Token counter; one for ``config.encoding`` by default.
        now: The time for expiry and staleness (default: now, UTC).
        extra_items: More candidates, such as retrieved documents; items with a
            ``required_scope`` the caller lacks are excluded as unauthorized.
        durable_facts: Facts from the user's durable memory relevant to the
            request, most relevant first (`memorygraph.store.facts.search_facts`);
            they are packed after the thread's facts, within the facts' share.

    Returns:
        The package. Its ``total_tokens`` is the exact count of `to_messages()`
        as the chat format bills it, and never more than the available budget.

    Raises:
        ContextBudgetExceeded: When the critical items do not fit.
    """
    counter = counter or _default_counter(config)
    now = now or datetime.now(UTC)
    candidates, excluded = collect_items(
        state,
        identity=identity,
        config=config,
        counter=counter,
        now=now,
        durable_facts=durable_facts,
    )
    candidates += extra_items
    try:
        return _package(
            state, candidates, excluded, identity=identity, config=config, counter=counter
        )
    except ValidationError:
        # Nearly every text is valid UTF-8, so the package's own hash is the
        # check: it encodes every included and excluded text, and a lone
        # surrogate fails it. Only then are the candidates cleaned and packed
        # again; the package's total is counted on the cleaned text.
        pass
    cleaned = [_valid_text(item) for item in candidates]
    excluded = [entry.model_copy(update={"item": _valid_text(entry.item)}) for entry in excluded]
    try:
        return _package(state, cleaned, excluded, identity=identity, config=config, counter=counter)
    except ValidationError as exc:
        raise InvalidMessageError(
            f"the context cannot be packaged: {validation_message(exc)}; store text as valid UTF-8"
        ) from exc


def _package(
    state: Mapping[str, Any],
    candidates: Sequence[ContextItem],
    excluded: Sequence[ExcludedItem],
    *,
    identity: Identity,
    config: MemoryConfig,
    counter: TokenCounter,
) -> ContextPackage:
    """Filter, pack, count exactly and validate: `build_package` after `collect_items`.

    Raises:
        ValidationError: When the package is invalid, e.g. a text holds a lone surrogate.
    """
    allowed, unauthorized = filter_items(candidates, scopes=identity.scopes)
    overhead = counter.count_messages([SystemMessage("")])
    context_overhead = (
        counter.count_messages(
            [SystemMessage(""), HumanMessage(CONTEXT_HEADER + "\n\n", name="context")]
        )
        - overhead
    )
    source_order = {item.id: index for index, item in enumerate(allowed)}
    summary = state.get("summary")
    shares = adapt_shares(
        config,
        archived=summary.covered_turns if isinstance(summary, SessionSummary) else 0,
        window=sum(1 for m in state.get("messages") or () if not isinstance(m, RemoveMessage)),
    )
    if isinstance(summary, SessionSummary):
        cap = int(shares.get(ItemKind.SUMMARY.value, 0.0) * config.available_tokens)
        allowed = [
            _fit_summary(item, summary, cap, counter) if item.kind is ItemKind.SUMMARY else item
            for item in allowed
        ]
    while True:
        included, over = pack_items(
            allowed,
            config=config,
            overhead=overhead,
            shares=shares,
            counter=counter,
            context_overhead=context_overhead,
        )
        fields: dict[str, Any] = {
            "items": _group_in_source_order(included, source_order),
            "excluded": sorted(
                [*excluded, *unauthorized, *over],
                key=lambda e: (RENDER_ORDER[e.item.kind], e.item.rank, e.item.id),
            ),
            "budget": config.token_budget,
            "output_reserve": config.output_reserve,
            "prompt_version": config.prompt_version,
            "encoding": counter.encoding_name,
            "thread_id": identity.thread_id,
            "tenant_id": identity.tenant_id,
            "user_id": identity.user_id,
        }
        # The draft is only rendered and counted: built without validation, so
        # the package is validated and hashed once, with its exact count.
        draft = ContextPackage.model_construct(**fields, total_tokens=0)
        exact = counter.count_messages(draft.to_messages())
        if exact <= config.available_tokens:
            return ContextPackage(**fields, total_tokens=exact)
        # Token counts are not exactly additive across block boundaries: make room
        # by raising the overhead until the exact count fits.
        overhead += exact - config.available_tokens


def _fit_summary(
    item: ContextItem, summary: SessionSummary, cap: int, counter: TokenCounter
) -> ContextItem:
    # The summary goes in before everything but the critical items, so it keeps
    # to its share: a larger one is shortened, its least lasting entries first.
    if item.tokens <= cap:
        return item
    rendering = item.tokens - counter.count_text(item.content)  # header, quotes, joins
    text, left_out = fit_summary_text(summary, cap=max(cap - rendering, 0), counter=counter)
    shortened = _state_item(ItemKind.SUMMARY, item.id, text, counter)
    metadata = {**shortened.metadata, "entries_left_out": left_out}
    return shortened.model_copy(update={"metadata": metadata})


def _group_in_source_order(
    items: list[ContextItem], source_order: dict[str, int]
) -> list[ContextItem]:
    result: list[ContextItem] = []
    index = 0
    while index < len(items):
        group = items[index].group
        if group is None:
            result.append(items[index])
            index += 1
            continue
        end = index
        while end < len(items) and items[end].group == group:
            end += 1
        result += _sort_within_group(items[index:end], source_order)
        index = end
    return result


async def abuild_package(
    state: Mapping[str, Any],
    *,
    identity: Identity,
    config: MemoryConfig,
    counter: TokenCounter | None = None,
    now: datetime | None = None,
    extra_items: Sequence[ContextItem] = (),
    durable_facts: Sequence[Fact] = (),
) -> ContextPackage:
    """Async twin of `build_package` (packing is CPU work; it does not block on I/O)."""
    return build_package(
        state,
        identity=identity,
        config=config,
        counter=counter,
        now=now,
        extra_items=extra_items,
        durable_facts=durable_facts,
    )


def _default_counter(config: MemoryConfig) -> TokenCounter:
    # The process's shared counter (summarize's default too): one cache of counts.
    if config.model_name:
        return shared_counter(model=config.model_name)
    return shared_counter(config.encoding)


# ------------------------------------------------------------------------------ node


def make_pack_context(
    config: MemoryConfig | None = None,
    *,
    counter: TokenCounter | None = None,
    clock: Callable[[], datetime] | None = None,
    retriever: Retriever | None = None,
) -> MemoryStep:
    """Make a ``pack_context`` node (sync and async) with its own configuration.

    Args:
        config: Budgets and texts (defaults to ``MemoryConfig()``).
        counter: Token counter to share with other nodes.
        clock: Returns "now"; tests pass a fixed clock.
        retriever: Recalls archived turns for the request; by default the one
            ``config.recall`` names (`memorygraph.retrieval.default_retriever`).

    Returns:
        A node ``(state, config, runtime) -> {"context_package": package}``.
        When the graph has a store, the user's durable facts relevant to the
        request are packed too, and so are the thread's turns that the request
        recalls: archived ones, and those of the window that the recent-turn
        share cannot show. Under ``ainvoke``/``astream`` it reads the store with
        its async methods.

    Example:
        >>> from langgraph.graph import START, StateGraph
        >>> from memorygraph import MemoryContext, MemoryState
        >>> builder = StateGraph(MemoryState, context_schema=MemoryContext)
        >>> _ = builder.add_node("pack_context", make_pack_context(MemoryConfig(token_budget=900)))
        >>> _ = builder.add_edge(START, "pack_context")
        >>> out = builder.compile().invoke(
        ...     {"messages": [("user", "Hello!")]},
        ...     {"configurable": {"thread_id": "t1"}},
        ...     context=MemoryContext(tenant_id="acme", user_id="ana"),
        ... )
        >>> out["context_package"].to_messages()[-1].content
        'Hello!'
    """
    memory_config = config or MemoryConfig()
    tokens = counter or _default_counter(memory_config)

    def begin(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> tuple[Identity, datetime, _Plan]:
        identity = resolve_identity(runtime.context, config)
        now = clock() if clock else datetime.now(UTC)
        return identity, now, _Plan.of(state, identity, runtime.store, memory_config, retriever)

    def pack(
        state: Mapping[str, Any], identity: Identity, now: datetime, inputs: _Inputs
    ) -> ContextPackage:
        return build_package(
            state, identity=identity, config=memory_config, counter=tokens, now=now, **inputs
        )

    def pack_context(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        identity, now, plan = begin(state, config, runtime)
        inputs: _Inputs = {"extra_items": [], "durable_facts": []}
        if runtime.store is not None and plan.facts_query is not None:
            inputs["durable_facts"] = search_facts(
                runtime.store, *plan.owner, plan.facts_query, **plan.facts_options(now)
            )
        if runtime.store is not None and plan.recall is not None:
            inputs["extra_items"] = recall_items(
                runtime.store, **plan.recall._asdict(), counter=tokens
            )
        package = pack(state, identity, now, inputs)
        if runtime.store is not None:
            _record(runtime.store, package, state, identity, memory_config, now, inputs)
        return {"context_package": package}

    async def apack_context(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        identity, now, plan = begin(state, config, runtime)
        inputs: _Inputs = {"extra_items": [], "durable_facts": []}
        if runtime.store is not None and plan.facts_query is not None:
            inputs["durable_facts"] = await asearch_facts(
                runtime.store, *plan.owner, plan.facts_query, **plan.facts_options(now)
            )
        if runtime.store is not None and plan.recall is not None:
            inputs["extra_items"] = await arecall_items(
                runtime.store, **plan.recall._asdict(), counter=tokens
            )
        package = pack(state, identity, now, inputs)
        if runtime.store is not None:
            await _arecord(runtime.store, package, state, identity, memory_config, now, inputs)
        return {"context_package": package}

    return MemoryStep("pack_context", pack_context, apack_context)


# Every input besides the state goes through this one dict, so the restricted
# audit record replays exactly what was packed.
_Inputs = dict[str, Sequence[Any]]


@dataclass(frozen=True)
class _Plan:
    """What one package reads from the store, decided before reading it."""

    owner: tuple[str, str]
    facts_query: str | None  # None: no durable facts to read
    limit: int
    scan: int
    recall: _RecallRequest | None  # None: nothing to recall

    @classmethod
    def of(
        cls,
        state: Mapping[str, Any],
        identity: Identity,
        store: BaseStore | None,
        config: MemoryConfig,
        retriever: Retriever | None,
    ) -> _Plan:
        messages = [m for m in state.get("messages") or () if not isinstance(m, RemoveMessage)]
        history, request, _ = split_turn(messages)
        query = message_text(request) if request is not None else ""
        summary = state.get("summary")
        recall = None
        if store is not None and request is not None and isinstance(summary, SessionSummary):
            engine = retriever or default_retriever(store, config.recall)
            if engine is not None and summary.covered_turns:
                recall = _RecallRequest(
                    (identity.tenant_id, identity.user_id, identity.thread_id),
                    query,
                    summary.covered_turns,
                    summary.last_updated_turn_id,
                    engine,
                    config,
                    history,
                )
        return cls(
            owner=(identity.tenant_id, identity.user_id),
            facts_query=query if store is not None and config.durable_facts_limit else None,
            limit=config.durable_facts_limit,
            scan=config.durable_scan_limit,
            recall=recall,
        )

    def facts_options(self, now: datetime) -> dict[str, Any]:
        """`search_facts`' keyword arguments."""
        return {"limit": self.limit, "scan": self.scan, "now": now}


class _RecallRequest(NamedTuple):
    """`recall_items`' arguments after the store, but the counter."""

    thread: tuple[str, str, str]
    query: str
    archived: int
    last_id: str | None
    retriever: Retriever
    config: MemoryConfig
    pending: Sequence[BaseMessage]  # the window before the request: ranked with the archive


def _record(
    store: BaseStore,
    package: ContextPackage,
    state: Mapping[str, Any],
    identity: Identity,
    config: MemoryConfig,
    now: datetime,
    inputs: Mapping[str, Sequence[Any]],
) -> None:
    if state.get("context_package") is None:
        # The thread's first package: record who owns it, for forget_user/forget_tenant.
        register_thread(store, identity)
    if config.audit_full_content:
        record_package_inputs(
            store, package, state=state, identity=identity, config=config, now=now, **inputs
        )


async def _arecord(
    store: BaseStore,
    package: ContextPackage,
    state: Mapping[str, Any],
    identity: Identity,
    config: MemoryConfig,
    now: datetime,
    inputs: Mapping[str, Sequence[Any]],
) -> None:
    if state.get("context_package") is None:
        await aregister_thread(store, identity)
    if config.audit_full_content:
        await arecord_package_inputs(
            store, package, state=state, identity=identity, config=config, now=now, **inputs
        )


pack_context = make_pack_context()
"""The ``pack_context`` node with the default `MemoryConfig`."""
