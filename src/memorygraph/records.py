"""The typed records memorygraph keeps in state, in the store and in the audit log.

Records are pydantic models: they are validated where they enter, and they
serialize to canonical JSON, which is what makes a `ContextPackage` id
reproducible.

Example:
    >>> from memorygraph.records import ContextItem, Priority
    >>> item = ContextItem(id="policy", kind="policy", content="Be careful.",
    ...                    priority=Priority.CRITICAL, tokens=4, source="config:policy")
    >>> item.priority.name
    'CRITICAL'
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from memorygraph.caching import KEPT_CHARS, BoundedCache, ObjectCache
from memorygraph.kinds import RENDER_ORDER, ExclusionReason, ItemKind, Priority, TrustLevel
from memorygraph.rendering.messages import render_messages

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

__all__ = [
    "RENDER_ORDER",
    "ArchivedTurn",
    "AuditRecord",
    "ContextItem",
    "ContextPackage",
    "ExcludedItem",
    "ExclusionReason",
    "Fact",
    "FactScope",
    "FactStatus",
    "ItemKind",
    "MemoryCandidate",
    "Priority",
    "ResolvedReference",
    "SessionSummary",
    "Sensitivity",
    "TaskState",
    "TokenUsage",
    "TrustLevel",
]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContextItem(_Record):
    """One candidate piece of context, kept structured until the last moment.

    Attributes:
        id: Stable id, unique within a package (a message id, a fact id, ...).
        kind: What the item is; decides its budget share and where it renders.
        content: The text shown to the model.
        priority: How much it matters; CRITICAL items fail closed.
        tokens: Exact token count of the item as rendered.
        source: Where it came from (``config:policy``, ``turn:<id>``, ``fact:<id>``).
        trust_level: Who asserted it, when that is known.
        metadata: JSON-safe extra data (dates, scores, labels).
        group: Items sharing a group are packed or dropped together (an AI tool
            call and its tool results).
        rank: Order within a kind and priority; 0 comes first (for recent turns,
            0 is the newest).
        required_scope: A scope the caller must hold to see the item.
        message: For turns, the chat message to render natively, in
            ``langchain_core.messages.message_to_dict`` form.
    """

    id: str
    kind: ItemKind
    content: str
    priority: Priority
    tokens: int = Field(ge=0)
    source: str
    trust_level: TrustLevel | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    group: str | None = None
    rank: int = 0
    required_scope: str | None = None
    message: dict[str, Any] | None = None

    @field_serializer("kind", "priority", "trust_level")
    def _plain(self, value: ItemKind | Priority | TrustLevel | None) -> str | int | None:
        # Dumped as their values (the same in JSON; StrEnum and IntEnum members
        # equal them): a checkpoint serializer then writes plain strings and
        # ints instead of an enum object each, which it must rebuild by name on
        # every load. Validation turns them back into members.
        return value.value if value is not None else None

    @property
    def unit(self) -> str:
        """The packing unit: the group when there is one, else the item itself."""
        return self.group or f"{self.kind}:{self.id}"


class ExcludedItem(_Record):
    """An item left out of a package, and why."""

    item: ContextItem
    reason: ExclusionReason
    detail: str = ""


# Built once; the values are model_dump output, plain trees, so the encoder
# skips the cycle check (the same bytes, about a third faster).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), check_circular=False
)


def _canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


def _package_json(package: ContextPackage) -> str:
    """The package's canonical JSON without its id: `_canonical_json` of its JSON dump.

    Written out key by key, so that each item's part is encoded once per item
    object: the packer hands the same items (a turn, a fact) to every package
    while they stay, and the draft it counts to the package it returns. The
    text is the same, byte for byte (a test compares it with the whole dump's).
    """
    body = package.model_dump(mode="json", exclude={"id", "items"})
    body["items"] = None  # placed in key order, written below
    parts = []
    for key in sorted(body):
        value = (
            "[" + ",".join(_item_json(item) for item in package.items) + "]"
            if key == "items"
            else _canonical_json(body[key])
        )
        parts.append(f"{_canonical_json(key)}:{value}")
    return "{" + ",".join(parts) + "}"


def _known_item(data: dict[str, Any]) -> ContextItem | dict[str, Any]:
    item_id, source, content = data.get("id"), data.get("source"), data.get("content")
    if not (type(item_id) is str and type(source) is str and type(content) is str):
        return data  # not an item's dump: validation says what is wrong
    hit = _KNOWN.get((item_id, source, content))
    return hit[0] if hit is not None and hit[1] == data else data


def _remember_item(item: ContextItem) -> None:
    key = (item.id, item.source, item.content)
    hit = _KNOWN.get(key)
    if (hit is not None and hit[0] is item) or len(item.content) > KEPT_CHARS:
        return
    _KNOWN.put(key, (item, _item_dump(item)))  # the dump: what a checkpoint holds of it


def _item_dump(item: ContextItem) -> dict[str, Any]:
    base = _RANKED.get(item)
    if base is None:
        return item.model_dump()
    return {**_unranked(base)[0], "rank": item.rank}  # the keys in the same order


def _item_json(item: ContextItem) -> str:
    text = _ITEM_JSON.get(item)
    if text is None:
        base = _RANKED.get(item)
        split = _unranked(base)[1] if base is not None else ()
        text = (
            f"{split[0]}{item.rank}{split[1]}"
            if split
            else _canonical_json(item.model_dump(mode="json"))
        )
        if len(item.content) <= KEPT_CHARS:  # a large tool result is not kept twice
            _ITEM_JSON.put(item, text)
    return text


_RANK_MARK = -7_306_211_946_127  # a rank no item has: where the rank goes in an item's JSON


def _unranked(base: ContextItem) -> tuple[dict[str, Any], tuple[str, ...]]:
    """What every copy of ``base`` at another rank shares: its dump, and its JSON cut at the rank.

    The cut is () when it is not certain (the mark also inside the metadata):
    such a copy is encoded whole.
    """
    parts = _UNRANKED.get(base)
    if parts is None:
        text = _canonical_json({**base.model_dump(mode="json"), "rank": _RANK_MARK})
        key, mark = '"rank":', f'"rank":{_RANK_MARK}'
        at = text.find(mark)
        split = (text[: at + len(key)], text[at + len(mark) :]) if text.count(mark) == 1 else ()
        parts = (base.model_dump(), split)
        _UNRANKED.put(base, parts)
    return parts


def ranked(item: ContextItem, rank: int) -> ContextItem:
    """The item at ``rank``: itself, or a copy whose dump and JSON reuse the item's.

    A turn's item is built once (`memorygraph.packing.candidates`) but moves one
    place back every turn; its copies at each rank differ from it in the rank alone.

    Example:
        >>> item = ContextItem(id="m1", kind="recent_turn", content="hi", priority=50,
        ...                    tokens=4, source="t")
        >>> later = ranked(item, 3)
        >>> direct = _canonical_json(later.model_dump(mode="json"))
        >>> later.rank, later.content, _item_json(later) == direct
        (3, 'hi', True)
    """
    if item.rank == rank:
        return item
    copy = item.model_copy(update={"rank": rank})
    _RANKED.put(copy, _RANKED.get(item) or item)
    return copy


_KNOWN: BoundedCache[tuple[str, str, str], tuple[ContextItem, dict[str, Any]]] = BoundedCache(2048)
_ITEM_JSON: ObjectCache[ContextItem, str] = ObjectCache(2048)
_RANKED: ObjectCache[ContextItem, ContextItem] = ObjectCache(2048)  # a ranked copy: its item
_UNRANKED: ObjectCache[ContextItem, tuple[dict[str, Any], tuple[str, ...]]] = ObjectCache(2048)


class ContextPackage(_Record):
    """The one input envelope for a model call: deterministic, budgeted, auditable.

    Build packages with `memorygraph.nodes.packer.build_package` (or the
    graph); the id is the sha256 of the package's canonical JSON, so the same
    state and request always give the same id and the same rendered bytes.

    Attributes:
        id: sha256 (hex) of the canonical content.
        items: Included items, in render order.
        excluded: Items left out, each with its reason.
        total_tokens: Tokens of the included items.
        budget: The token budget the package was packed against.
        output_reserve: Tokens kept free for the model's answer.
        prompt_version: The version of the policy and rendering.
        encoding: The tiktoken encoding the counts use.
        thread_id: The thread the package was built for.
        tenant_id: The caller's tenant.
        user_id: The caller's user id.
    """

    id: str = ""
    items: list[ContextItem]
    excluded: list[ExcludedItem] = Field(default_factory=list)
    total_tokens: int
    budget: int
    output_reserve: int = 0
    prompt_version: str
    encoding: str = "o200k_base"
    thread_id: str = ""
    tenant_id: str = ""
    user_id: str = ""

    @field_validator("items", mode="wrap")
    @classmethod
    def _known_items(cls, value: Any, handler: Any) -> list[ContextItem]:
        # A checkpoint load rebuilds the thread's package from its dump on every
        # run, and the id check below hashes every item again. An item dumped
        # exactly as one this process holds is that item: it is reused as it is
        # (items are frozen), and its canonical JSON is already known.
        if isinstance(value, list):
            value = [_known_item(v) if type(v) is dict else v for v in value]
        items: list[ContextItem] = handler(value)
        for item in items:
            _remember_item(item)
        return items

    @model_validator(mode="after")
    def _fill_id(self) -> ContextPackage:
        digest = self.content_hash()
        if not self.id:
            object.__setattr__(self, "id", digest)
        elif self.id != digest:
            raise ValueError(f"package id {self.id} does not match its content ({digest})")
        return self

    def content_hash(self) -> str:
        """Return the sha256 of the package's canonical JSON, without its id."""
        return hashlib.sha256(_package_json(self).encode("utf-8")).hexdigest()

    @property
    def included_ids(self) -> list[str]:
        """The ids of the included items, in render order."""
        return [item.id for item in self.items]

    @property
    def excluded_ids(self) -> list[str]:
        """The ids of the excluded items."""
        return [entry.item.id for entry in self.excluded]

    @property
    def truncated(self) -> dict[str, dict[str, int]]:
        """The items shortened to fit, by id: ``tokens_before``, ``tokens_after``, ``tokens_cut``.

        Only tool results of the turn in progress are ever shortened
        (`memorygraph.packing.truncation`); the model sees a marker in their place.
        """
        return {
            item.id: dict(item.metadata["truncated"])
            for item in self.items
            if isinstance(item.metadata.get("truncated"), dict)
        }

    def _repr_html_(self) -> str:
        """Jupyter's rendering: the budget bar and a table of every item (`memorygraph.display`)."""
        from memorygraph.display import package_html  # rich loads only when Jupyter asks

        return package_html(self)

    def tokens_by_kind(self) -> dict[str, int]:
        """Return the tokens spent on each kind, in render order."""
        spent: dict[str, int] = {}
        for item in self.items:
            spent[item.kind.value] = spent.get(item.kind.value, 0) + item.tokens
        return spent

    def to_messages(self) -> list[BaseMessage]:
        """Render the package to chat messages: exactly what the model is sent.

        Returns:
            A system message with the trusted instructions, a context message
            with the quoted data items, the recent turns as native messages,
            and the current request last.
        """
        return render_messages(self)

    def to_json(self) -> str:
        """Return the package as canonical JSON (what the audit log stores)."""
        return _canonical_json(self.model_dump(mode="json"))


class TokenUsage(_Record):
    """Tokens reported by the model provider, summed over a thread."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    calls: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            calls=self.calls + other.calls,
        )


FactScope = Literal["thread", "user", "tenant"]
Sensitivity = Literal["none", "personal", "sensitive"]
FactStatus = Literal["active", "superseded", "rejected"]


class Fact(_Record):
    """A fact extracted from the conversation, with its provenance.

    Attributes:
        id: Stable id (derived from subject, key and value by extractors).
        subject: Who or what the fact is about (``user`` by default).
        key: What is known (``name``, ``likes``, ``decision``, ...).
        value: The value.
        trust_level: Who asserted it.
        source_turn_id: The message id it came from.
        observed_at: When it was observed.
        expires_at: When it stops being true, if ever.
        scope: Who may see it: the thread, the user, or the whole tenant.
        sensitivity: Personal or sensitive data needs approval to persist.
        status: Active, superseded by a correction, or rejected by the user.
        superseded_by: The id of the fact that replaced it.
    """

    id: str
    subject: str = "user"
    key: str
    value: str
    trust_level: TrustLevel = TrustLevel.USER_CLAIMED
    source_turn_id: str | None = None
    observed_at: datetime = Field(default_factory=_utcnow)
    expires_at: datetime | None = None
    scope: FactScope = "thread"
    sensitivity: Sensitivity = "none"
    status: FactStatus = "active"
    superseded_by: str | None = None

    def is_expired(self, now: datetime) -> bool:
        """Return whether the fact has expired at ``now``."""
        return self.expires_at is not None and now >= self.expires_at


class MemoryCandidate(_Record):
    """A fact proposed for durable memory, with the boundary checks it went through.

    Attributes:
        id: Stable id; approvals are keyed by it, which makes writes idempotent.
        fact: The fact to persist.
        checks: The memory-boundary checks (relevance, stability, consent,
            sensitivity, source, expiry, scope) and their outcome.
        reason: Why a human must approve it, or None when it needs no approval.
        asked: Whether the user has moved on from it: sent a new turn while
            an approval interrupt showing it was open.
        moved_on: How many new turns the user sent instead of answering. The
            next turn asks again (the interrupt carries it, ``asked_before``);
            after a second turn without an answer it no longer pauses turns on
            its own, and is asked again with the next new candidate.
    """

    id: str
    fact: Fact
    checks: dict[str, str] = Field(default_factory=dict)
    reason: str | None = None
    asked: bool = False
    moved_on: int = 0


class SessionSummary(_Record):
    """A structured summary of the turns folded out of the working window.

    Attributes:
        user_goal: What the user is trying to achieve.
        active_task: The task in progress.
        confirmed_decisions: Decisions the user confirmed.
        open_questions: Questions still open.
        rejected_assumptions: Assumptions the user rejected; never confirmed.
        important_entities: Entity names mapped to their ids.
        risk_notes: Risks worth keeping in view.
        last_updated_turn_id: The newest turn the summary covers.
        covered_turn_ids: The turns folded in by the latest refresh, oldest
            first. Every turn folded by any refresh is in the transcript
            archive with the version that folded it, so the summary itself stays
            a fixed size however long the thread runs.
        covered_turns: How many turns all refreshes have folded in.
        version: Increases by one on every refresh.
        trigger: Why the latest refresh ran (``token_pressure``,
            ``turn_threshold``, ``correction``, ``task_change``, ``approval``).
        archive_digest: The digest of the ``covered_turns`` archived turns
            (`memorygraph.store.archive.archive_digest`): recall checks a
            process's copy of the archive against it. None for summaries
            written before it existed (the copy is checked by
            ``last_updated_turn_id`` alone).
    """

    user_goal: str | None = None
    active_task: str | None = None
    confirmed_decisions: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)
    rejected_assumptions: list[str] = Field(default_factory=list)
    important_entities: dict[str, str] = Field(default_factory=dict)
    risk_notes: list[str] = Field(default_factory=list)
    last_updated_turn_id: str | None = None
    covered_turn_ids: list[str] = Field(default_factory=list)
    covered_turns: int = 0
    version: int = 0
    trigger: str | None = None
    archive_digest: str | None = None

    @model_validator(mode="after")
    def _check_invariants(self) -> SessionSummary:
        rejected = {text.casefold() for text in self.rejected_assumptions}
        clash = [d for d in self.confirmed_decisions if d.casefold() in rejected]
        if clash:
            raise ValueError(f"rejected assumptions cannot be confirmed decisions: {clash}")
        if self.covered_turn_ids and self.last_updated_turn_id != self.covered_turn_ids[-1]:
            raise ValueError("last_updated_turn_id must be the last covered turn")
        if len(set(self.covered_turn_ids)) != len(self.covered_turn_ids):
            raise ValueError("covered_turn_ids must not repeat a turn")
        if self.covered_turns < len(self.covered_turn_ids):
            raise ValueError("covered_turns counts every folded turn, so it cannot be smaller")
        return self


class TaskState(_Record):
    """The task in progress and where it stands."""

    task_name: str
    current_step: str = ""
    entity_ids: dict[str, str] = Field(default_factory=dict)
    pending_questions: list[str] = Field(default_factory=list)
    pending_approvals: list[str] = Field(default_factory=list)


class ResolvedReference(_Record):
    """What a phrase such as "the second one" or "remove it" points to.

    Attributes:
        phrase: The words in the request that refer back.
        entity_type: What kind of thing it points to (``list_item``, ``entity``,
            ``request``, ``tool_call``, ``decision``).
        entity_id: The resolved entity, or None when it could not be resolved.
        confidence: How sure the resolver is, from 0 to 1.
        requires_clarification: True when several candidates fit, or none does:
            the model must ask which one is meant instead of guessing.
        reason: How it was resolved, or why it could not be.
        candidates: The candidates that fit, when there are several.
    """

    phrase: str
    entity_type: str
    entity_id: str | None = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    requires_clarification: bool = False
    reason: str = ""
    candidates: list[str] = Field(default_factory=list)


class AuditRecord(_Record):
    """What the audit log keeps for each model call (docs/architecture.md, the audit trail).

    This is the general trace: ids, budget, tokens and versions, plus each
    included item's content with personal data redacted
    (`memorygraph.redact.redact`), or no content with
    ``MemoryConfig(audit_content="none")``. Full content is kept only in the
    restricted audit namespace, and only when configured.

    Attributes:
        package_id: The `ContextPackage` id (the sha256 of its content).
        thread_id: The session.
        tenant_id: The caller's tenant.
        user_id: The caller's user id.
        included_ids: The included items, in render order.
        excluded: Each excluded item's id and the reason.
        budget: The token budget the package was packed against.
        total_tokens: The package's exact token count.
        prompt_version: The version of the policy and rendering.
        model: The model profile the package was sent to.
        summary_version: The version of the summary in the package, if any.
        policy_scope_hash: A hash of the caller's tenant, user and scopes.
        created_at: When the record was written (before the model call).
        redacted_content: Included item id to its content, redacted.
    """

    package_id: str
    thread_id: str
    tenant_id: str
    user_id: str
    included_ids: list[str]
    excluded: list[tuple[str, ExclusionReason]]
    budget: int
    total_tokens: int
    prompt_version: str
    model: str | None
    summary_version: int | None = None
    policy_scope_hash: str
    created_at: datetime = Field(default_factory=_utcnow)
    redacted_content: dict[str, str] = Field(default_factory=dict)


class ArchivedTurn(_Record):
    """One turn in a thread's append-only transcript archive.

    Attributes:
        id: The message id.
        seq: Position in the thread, counting from 0; the archive's order.
        role: ``human``, ``ai``, ``tool`` or ``system``.
        speaker: The message's ``name``, when it has one.
        content: The message text.
        created_at: When it was said (``additional_kwargs["created_at"]``), else
            when it was archived.
        tool_calls: An AI turn's tool calls, as LangChain dicts.
        tool_call_id: A tool result's call id.
        summary_version: The summary version whose refresh folded it.
    """

    id: str
    seq: int = Field(ge=0)
    role: str
    speaker: str | None = None
    content: str
    created_at: str
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    tool_call_id: str | None = None
    summary_version: int
