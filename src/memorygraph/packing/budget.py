"""Budget: fit the candidates into the token budget, by priority and by each kind's share.

`pack_items` groups items into units that stand or fall together (a turn's AI
tool call with its results), takes the CRITICAL units first (failing closed with
`ContextBudgetExceeded` when they do not fit), then fills each kind's share, then
the room left over, newest first for the conversation's own turns.
`adapt_shares` gives recall more of the budget as more of the thread is only
reachable through recall.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from memorygraph.config import MemoryConfig
from memorygraph.errors import (
    ContextBudgetExceeded,
)
from memorygraph.packing.candidates import exclude
from memorygraph.packing.truncation import shorten_tool_results
from memorygraph.records import (
    RENDER_ORDER,
    ContextItem,
    ExcludedItem,
    ItemKind,
    Priority,
)
from memorygraph.rendering.messages import SYSTEM_KINDS
from memorygraph.tokens import TokenCounter, counter_for

__all__ = ["CONTIGUOUS", "adapt_shares", "pack_items", "render_order"]

# Kinds packed newest first without gaps: dropping an older turn while keeping a
# newer one would leave the model a conversation with holes in it.
CONTIGUOUS = frozenset({ItemKind.RECENT_TURN, ItemKind.TOOL_RESULT})


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
        exclude(item, "over_budget")
        for unit in units
        if unit.kind is ItemKind.SUMMARY and not fill.take(unit)
        for item in unit.items
    ]
    units = [unit for unit in units if unit.kind is not ItemKind.SUMMARY]
    deferred, duplicates = _first_pass(fill, units, caps)
    excluded += duplicates
    excluded += _second_pass(fill, deferred, weights)
    return render_order(fill.included), excluded


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
            excluded += [exclude(item, "duplicate") for item in unit.items]
            continue
        fits_share = fill.spent.get(unit.kind, 0) + unit.tokens <= caps.get(unit.kind, 0)
        if unit.kind not in closed and fits_share and fill.take(unit):
            continue
        if unit.kind in CONTIGUOUS:
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
            excluded += [exclude(item, "duplicate") for item in unit.items]
            continue
        if unit.kind not in closed and fill.take(unit):
            recalled |= _recalled_turns(unit.items)
            continue
        if unit.kind in CONTIGUOUS:
            closed.add(unit.kind)
        excluded += [exclude(item, "over_budget") for item in unit.items]
    return excluded


def _shorten_turn(
    critical: list[ContextItem], used: int, config: MemoryConfig, counter: TokenCounter | None
) -> list[ContextItem]:
    # The critical items do not fit: the turn in progress's tool results give way
    # first, shortened visibly; then the package fails closed.
    available = config.available_tokens
    shortened = shorten_tool_results(
        critical, used - available, counter=counter or counter_for(config)
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


def render_order(items: Sequence[ContextItem]) -> list[ContextItem]:
    """Order included items as they are rendered: by kind, then conversation turns oldest first."""

    def key(item: ContextItem) -> tuple[int, int, int, str]:
        if item.kind in CONTIGUOUS:
            # oldest first, so the conversation reads in order
            return (RENDER_ORDER[item.kind], -item.rank, 0, item.id)
        if item.kind is ItemKind.RECALLED:
            # packed by relevance, read in the order it was said
            return (RENDER_ORDER[item.kind], 0, int(item.metadata.get("seq", 0)), item.id)
        return (RENDER_ORDER[item.kind], -item.priority, item.rank, item.id)

    return sorted(items, key=key)
