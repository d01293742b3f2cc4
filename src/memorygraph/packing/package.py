"""Package: filter, pack and count one `ContextPackage`.

`build_package` runs the three pure steps (`collect_items`, `filter_items`,
`pack_items`) and returns a deterministic package whose id is the sha256 of its
content, counted exactly with tiktoken.

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

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import ValidationError

from memorygraph.caching import BoundedCache
from memorygraph.config import MemoryConfig
from memorygraph.context import Identity
from memorygraph.errors import (
    InvalidMessageError,
    validation_message,
)
from memorygraph.packing.budget import adapt_shares, pack_items
from memorygraph.packing.candidates import (
    collect_items,
    exclude,
    state_item,
    valid_text,
)
from memorygraph.packing.summary import fit_summary_text
from memorygraph.records import (
    RENDER_ORDER,
    ContextItem,
    ContextPackage,
    ExcludedItem,
    Fact,
    ItemKind,
    Priority,
    SessionSummary,
)
from memorygraph.rendering.cost import (
    data_tokens,
    message_overheads,
    recalled_tokens,
    rendering_tokens,
)
from memorygraph.rendering.messages import SYSTEM_KINDS
from memorygraph.tokens import TokenCounter, counter_for
from memorygraph.turns import message_window

__all__ = ["abuild_package", "build_package", "filter_items", "fits_at_a_glance"]


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
            excluded.append(exclude(item, "unauthorized", f"needs scope {item.required_scope}"))
        else:
            kept.append(item)
    return kept, excluded


def _sort_within_group(items: list[ContextItem], source_order: dict[str, int]) -> list[ContextItem]:
    # Inside one tool-call group the AI message must precede its results.
    return sorted(items, key=lambda item: source_order.get(item.id, 0))


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
    counter = counter or counter_for(config)
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
    cleaned = [valid_text(item) for item in candidates]
    excluded = [entry.model_copy(update={"item": valid_text(entry.item)}) for entry in excluded]
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
    overhead, context_overhead = message_overheads(counter)
    source_order = {item.id: index for index, item in enumerate(allowed)}
    summary = state.get("summary")
    shares = adapt_shares(
        config,
        archived=summary.covered_turns if isinstance(summary, SessionSummary) else 0,
        window=len(message_window(state.get("messages") or ()).messages),
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
        repriced = _reprice(allowed, included, counter)
        if repriced is not None:
            # An item declared smaller than it renders: it pays its own size, so
            # what it displaces is chosen by priority, not the items packed first.
            # Also one that only went in on a retry; each item is repriced once
            # (to its least cost, which it then declares), so this ends.
            allowed = repriced
            continue
        # Token counts are not exactly additive across block boundaries: make room
        # by raising the overhead until the exact count fits.
        overhead += exact - config.available_tokens


def _reprice(
    allowed: Sequence[ContextItem], included: Sequence[ContextItem], counter: TokenCounter
) -> list[ContextItem] | None:
    """The candidates with each included data item that declared less than it renders repriced.

    Returns None when no included item under-declared (the drift is the
    tokenizer's, across block boundaries).
    """
    true_sizes = {
        item.id: cost
        for item in included
        if item.message is None
        and item.priority is not Priority.CRITICAL
        and item.kind not in SYSTEM_KINDS
        and (cost := _least_cost(item, counter)) > item.tokens
    }
    if not true_sizes:
        return None
    return [
        item.model_copy(update={"tokens": true_sizes[item.id]}) if item.id in true_sizes else item
        for item in allowed
    ]


def _least_cost(item: ContextItem, counter: TokenCounter) -> int:
    # A recalled passage after another of its session shares that one's header:
    # the least it can cost is what it adds to the block.
    if item.kind is ItemKind.RECALLED:
        return recalled_tokens(item, counter)[1]
    return data_tokens(item, counter)


def _fit_summary(
    item: ContextItem, summary: SessionSummary, cap: int, counter: TokenCounter
) -> ContextItem:
    # The summary goes in before everything but the critical items, so it keeps
    # to its share: a larger one is shortened, its least lasting entries first.
    if item.tokens <= cap:
        return item
    rendering = rendering_tokens(item, counter)
    text, left_out = fit_summary_text(summary, cap=max(cap - rendering, 0), counter=counter)
    shortened = state_item(ItemKind.SUMMARY, item.id, text, counter)
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


def fits_at_a_glance(
    messages: Sequence[BaseMessage],
    *,
    identity: Identity,
    config: MemoryConfig,
    counter: TokenCounter | None = None,
) -> bool:
    """Whether a package of ``messages`` alone surely fits the budget, told without building it.

    The instructions' package for this caller (built once per caller and
    config), plus each message's own count, plus room to spare, against the
    available tokens. True only when every message counts and all of them fit
    whole, so the package would drop nothing and raise nothing. False says
    nothing: build the package to know (`memorygraph.graph._guard` does, to
    refuse a request that cannot fit before anything is saved).

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> who = Identity(thread_id="t1", tenant_id="acme", user_id="ana", scopes=())
        >>> config = MemoryConfig()
        >>> fits_at_a_glance([HumanMessage("Plan my week.")], identity=who, config=config)
        True
        >>> fits_at_a_glance([HumanMessage("word " * 5000)], identity=who, config=config)
        False
    """
    counter = counter or counter_for(config)
    try:
        tokens = sum(counter.count_message(message) for message in messages)
    except Exception:  # whatever it is, building the package says it
        return False
    margin = _GLANCE_MARGIN + tokens // 8
    return _instructions_tokens(identity, config, counter) + tokens + margin <= (
        config.available_tokens
    )


_GLANCE_MARGIN = 32  # tokens; counts are nearly additive across messages, not exactly


def _instructions_tokens(identity: Identity, config: MemoryConfig, counter: TokenCounter) -> int:
    key = (id(config), identity, counter.encoding_name)
    hit = _INSTRUCTIONS.get(key)
    if hit is None or hit[0] is not config:
        empty = build_package({"messages": []}, identity=identity, config=config, counter=counter)
        hit = (config, empty.total_tokens)
        _INSTRUCTIONS.put(key, hit)
    return hit[1]


_INSTRUCTIONS: BoundedCache[tuple[int, Identity, str], tuple[MemoryConfig, int]] = BoundedCache(256)
