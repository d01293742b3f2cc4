"""`extract_facts`: read the turns after the watermark, and keep what they establish.

The core, `extract_facts_from` (and its twin `aextract_facts_from`), runs an
extractor over the new turns and reconciles its claims with what is known.
The reconciliation is where the invariants live, whatever the extractor:

* A claim's trust is capped by who spoke: a user's words are ``user_claimed``
  at most, an assistant's are ``model_inferred``, however they are phrased.
* A correction supersedes the fact it corrects. The old fact is kept, with
  ``status="superseded"`` and ``superseded_by``, and is never packed again. A
  new value for a single-valued key (a new city, a new favourite) does the same.
* A rejection ("don't assume X", "that's wrong") marks the assumption
  ``rejected`` and records a ``do_not_assume`` fact. The assumption does not
  come back as a confirmed fact unless a later turn brings new evidence (the
  user or a tool asserting it); the model repeating it is not evidence.
* A retraction ("I no longer live in Paris") supersedes the facts it names and
  records a ``no_longer`` fact, which guards them the way ``do_not_assume``
  guards a rejected assumption.
* Facts worth keeping across threads become `MemoryCandidate`s, each with the
  memory-boundary checks of seed 003 section 16. Those that need no approval
  are written to durable memory at once; the others (sensitive, personal,
  model-inferred, tenant-wide) wait in ``pending`` for the `approve` node.

It also follows the active task and its step, and resolves the current
request's back-references ("the second one", "remove it").

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

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from memorygraph._turns import message_id, message_text
from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext, resolve_identity
from memorygraph.extractors.base import (
    Claim,
    Extraction,
    FactExtractor,
    fact_id,
    max_sensitivity,
    normalize,
    sensitivity_floor,
)
from memorygraph.extractors.rule_based import RuleBasedExtractor
from memorygraph.nodes._steps import MemoryStep
from memorygraph.records import Fact, MemoryCandidate, ResolvedReference, TaskState, TrustLevel
from memorygraph.references import resolve_references
from memorygraph.state import merge_facts, trim_facts
from memorygraph.store.facts import aload_facts, aput_facts, load_facts, put_facts

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

SINGLE_VALUED = frozenset(
    {
        "name",
        "preferred_name",
        "lives_in",
        "from",
        "address",
        "works_at",
        "occupation",
        "diet",
        "marital_status",
        "urgency",
        "family:wife",
        "family:husband",
        "family:partner",
        "family:spouse",
        "family:girlfriend",
        "family:boyfriend",
        "family:boss",
        "family:manager",
    }
)
"""Keys that hold one value at a time: a new value supersedes the old one.

``favourite_*`` keys (``favourite_colour``) are single-valued too."""


def _single_valued(key: str) -> bool:
    return key in SINGLE_VALUED or key.startswith("favourite_")


_OPPOSITES = {"likes": "dislikes", "dislikes": "likes"}
_NO_LONGER = "no_longer"
_TASTES = frozenset({"likes", "preference", "diet"})
_GENERIC_SUBJECTS = frozenset({"task", "it", "this", "that"})
_TRUST_RANK = {
    TrustLevel.MODEL_INFERRED: 0,
    TrustLevel.USER_CLAIMED: 1,
    TrustLevel.TOOL_OBSERVED: 2,
    TrustLevel.SYSTEM_VERIFIED: 3,
}
_MAX_ENTITIES = 20


# ------------------------------------------------------------------------- the update


@dataclass(frozen=True)
class FactUpdate:
    """What one extraction run changes.

    Attributes:
        facts: New and changed facts for the thread (merged by id into ``facts``).
        candidates: Every durable-memory candidate proposed in this run.
        write: Facts to write to durable memory now: candidates that need no
            approval, and durable facts this run superseded or rejected.
        pending: Candidates waiting for a human, earlier undecided ones included.
        task: The task after this run.
        references: The current request's back-references; None when there is
            no new request.
        events: Memory events (``correction``, ``task_change``).
        watermark: The id of the last message read.
        history_limit: The most superseded and rejected facts the thread's
            state keeps (`MemoryConfig.fact_history_limit`).
    """

    facts: list[Fact] = field(default_factory=list)
    candidates: list[MemoryCandidate] = field(default_factory=list)
    write: list[Fact] = field(default_factory=list)
    pending: list[MemoryCandidate] = field(default_factory=list)
    task: TaskState | None = None
    references: list[ResolvedReference] | None = None
    events: list[str] = field(default_factory=list)
    watermark: str | None = None
    history_limit: int | None = None

    def state_update(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Return the partial state update: only the keys that changed.

        The changed facts are merged into ``facts`` by its reducer; when the
        merged list holds more history than ``history_limit``, the whole trimmed
        list is written instead (an ``Overwrite``), so the checkpoint stays bounded.
        """
        update: dict[str, Any] = {}
        if self.facts:
            update["facts"] = self.facts
        if self.history_limit is not None and (self.facts or state.get("facts")):
            merged = merge_facts(state.get("facts"), self.facts)
            kept = trim_facts(merged, history_limit=self.history_limit)
            if len(kept) < len(merged):
                update["facts"] = Overwrite(kept)
        if self.pending or state.get("pending"):
            update["pending"] = self.pending
        if self.task != state.get("task"):
            update["task"] = self.task
        if self.references is not None:
            update["references"] = self.references
        if self.events:
            update["memory_events"] = self.events
        if self.watermark != state.get("extracted_through"):
            update["extracted_through"] = self.watermark
        return update


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
    window = [m for m in messages if not isinstance(m, RemoveMessage)]
    if watermark is None:
        return window
    ids = [message_id(m) for m in window]
    if watermark in ids:
        return window[ids.index(watermark) + 1 :]
    for index in range(len(window) - 1, -1, -1):
        if isinstance(window[index], HumanMessage):
            return window[index:]
    return []


# ------------------------------------------------------------------------ reconcile


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _cap_trust(requested: TrustLevel, speaker: str | None) -> TrustLevel:
    # What a turn says can never raise the trust of what it says: the most a
    # user's turn yields is user_claimed, a tool's tool_observed, the model's
    # model_inferred. A system message in the history is treated as a user's,
    # because any caller of the graph can send one.
    if requested is TrustLevel.MODEL_INFERRED:
        return requested
    if speaker in ("human", "system"):
        return TrustLevel.USER_CLAIMED
    if speaker == "tool":
        return TrustLevel.TOOL_OBSERVED
    return TrustLevel.MODEL_INFERRED


def _same_value(a: str, b: str) -> bool:
    left, right = normalize(a).removeprefix("that "), normalize(b).removeprefix("that ")
    return bool(left) and left == right


def _is_guard(fact: Fact) -> bool:
    return fact.key == "do_not_assume" or fact.key.split(":", 1)[0] == _NO_LONGER


def _retracted_by(key: str | None, value: str, fact: Fact) -> bool:
    """Whether a retraction of ``value`` (under ``key``, if named) covers ``fact``.

    With a key, the values must overlap as whole phrases ("Paris" and "Paris,
    France"). Without one ("I don't eat meat anymore"), only a taste the phrase
    names is covered ("likes: meat"), never a name or place it happens to contain.
    """
    if _is_guard(fact):
        return False
    if key is not None:
        return fact.key == key and (
            _same_value(fact.value, value)
            or _mentions(fact.value, value)
            or _mentions(value, fact.value)
        )
    tastes = fact.key in _TASTES or fact.key.startswith("favourite_")
    return tastes and (_same_value(fact.value, value) or _mentions(value, fact.value))


def _retracts(marker: Fact, fact: Fact) -> bool:
    """Whether an active ``no_longer`` marker says ``fact`` stopped being true."""
    if marker.status != "active" or marker.subject != fact.subject:
        return False
    base, _, key = marker.key.partition(":")
    return base == _NO_LONGER and _retracted_by(key or None, marker.value, fact)


def _mentions(text: str, value: str) -> bool:
    """Whether ``text`` contains ``value`` as a whole phrase."""
    phrase = normalize(value)
    return len(phrase) >= 3 and f" {phrase} " in f" {normalize(text)} "


def _words(text: str) -> set[str]:
    return {w for w in normalize(text).replace(",", " ").split() if len(w) > 2}


def candidate_id(fact: Fact) -> str:
    """The candidate id for a fact: stable, so approvals are idempotent."""
    return "cand-" + hashlib.sha256(fact.id.encode("utf-8")).hexdigest()[:16]


def candidate_for(fact: Fact, *, config: MemoryConfig) -> MemoryCandidate:
    """Run the memory-boundary checks (seed 003 section 16) on a fact.

    Example:
        >>> from memorygraph.records import Fact
        >>> fact = Fact(id="f1", key="allergy", value="peanuts", scope="user",
        ...             sensitivity="sensitive")
        >>> candidate = candidate_for(fact, config=MemoryConfig())
        >>> candidate.reason
        'sensitive data (allergy) needs consent'
        >>> sorted(candidate.checks)
        ['consent', 'expiry', 'relevance', 'scope', 'sensitivity', 'source', 'stability']
    """
    reasons: list[str] = []
    if fact.sensitivity == "sensitive":
        reasons.append(f"sensitive data ({fact.key}) needs consent")
    elif fact.sensitivity == "personal" and config.approve_personal:
        reasons.append(f"personal data ({fact.key}) needs consent")
    if fact.trust_level is TrustLevel.MODEL_INFERRED:
        reasons.append("inferred by the model, not stated by the user")
    if fact.scope == "tenant":
        reasons.append("it would be shared with the whole tenant")
    stated = fact.trust_level is not TrustLevel.MODEL_INFERRED
    checks = {
        "relevance": f"about the {fact.scope}: useful in later threads ({fact.key})",
        "stability": (
            f"true until {fact.expires_at.date().isoformat()}"
            if fact.expires_at
            else "changes rarely"
            if _single_valued(fact.key)
            else "stable until corrected"
        ),
        "consent": (
            "needs a human's approval"
            if fact.sensitivity == "sensitive"
            or (fact.sensitivity == "personal" and config.approve_personal)
            or not stated
            else "stated by the user, not sensitive"
        ),
        "sensitivity": fact.sensitivity,
        "source": f"{fact.trust_level.value} in turn {fact.source_turn_id}",
        "expiry": fact.expires_at.isoformat() if fact.expires_at else "none",
        "scope": fact.scope,
    }
    return MemoryCandidate(
        id=candidate_id(fact), fact=fact, checks=checks, reason="; ".join(reasons) or None
    )


class _Ledger:
    """The facts known during one run, in the order they became known."""

    def __init__(self, thread: Sequence[Fact], durable: Sequence[Fact]) -> None:
        self.facts: dict[str, Fact] = {}
        self.order: dict[str, int] = {}
        self.changed: dict[str, Fact] = {}
        self.fresh: set[str] = set()
        self.durable = {fact.id: fact for fact in durable}
        for fact in (*durable, *thread):  # the thread's copy of a fact wins
            self._set(fact)
        self.events: list[str] = []

    def _set(self, fact: Fact) -> None:
        if fact.id not in self.order:
            self.order[fact.id] = len(self.order)
        self.facts[fact.id] = fact

    def put(self, fact: Fact, *, fresh: bool = False) -> None:
        self._set(fact)
        self.changed[fact.id] = fact
        if fresh:
            self.fresh.add(fact.id)

    def retire(self, fact: Fact, status: str, by: str | None = None) -> None:
        self.put(fact.model_copy(update={"status": status, "superseded_by": by}))
        self.fresh.discard(fact.id)
        if "correction" not in self.events:
            self.events.append("correction")

    def active(self) -> list[Fact]:
        return [f for f in self.facts.values() if f.status == "active"]

    def claimable(self) -> list[Fact]:
        """Active facts that say something, not guards (``do_not_assume``, ``no_longer``)."""
        return [f for f in self.active() if not _is_guard(f)]

    def latest(self, facts: Sequence[Fact]) -> Fact | None:
        return max(facts, key=lambda f: (f.observed_at, self.order[f.id]), default=None)


@dataclass
class _Context:
    turns: dict[str, BaseMessage]
    messages: Sequence[BaseMessage]
    config: MemoryConfig
    now: datetime


def _new_fact(claim: Claim, key: str, value: str, subject: str, ctx: _Context) -> Fact:
    turn = ctx.turns.get(claim.source_turn_id)
    observed = (
        _parse_time(turn.additional_kwargs.get("created_at")) if turn is not None else None
    ) or ctx.now
    ttl = ctx.config.expire_after.get(key)
    expires = claim.expires_at or (observed + ttl if ttl is not None else None)
    return Fact(
        id=fact_id(subject, key, value),
        subject=subject,
        key=key,
        value=value,
        trust_level=_cap_trust(claim.trust_level, turn.type if turn is not None else None),
        source_turn_id=claim.source_turn_id,
        observed_at=observed,
        expires_at=expires,
        scope=claim.scope,
        sensitivity=max_sensitivity(claim.sensitivity, sensitivity_floor(key, value)),
    )


def _admit(fact: Fact, ledger: _Ledger) -> None:
    """Add a fact, superseding what it replaces; rejected assumptions need new evidence."""
    known = ledger.facts.get(fact.id)
    inferred = fact.trust_level is TrustLevel.MODEL_INFERRED
    if known is not None and known.status == "active":
        trust = max(known.trust_level, fact.trust_level, key=_TRUST_RANK.__getitem__)
        refreshed = known.model_copy(
            update={
                "observed_at": max(known.observed_at, fact.observed_at),
                "source_turn_id": fact.source_turn_id,
                "trust_level": trust,
            }
        )
        # A model-inferred fact the user now states is new evidence: propose it again.
        ledger.put(refreshed, fresh=trust is not known.trust_level)
        return
    blockers = [
        f
        for f in ledger.facts.values()
        if (f.status == "rejected" and _same_value(f.value, fact.value))
        or (f.key == "do_not_assume" and f.status == "active" and _same_value(f.value, fact.value))
        or (f.key.split(":", 1)[0] == _NO_LONGER and _retracts(f, fact))
    ]
    if (known is not None and known.status == "rejected") or blockers:
        if inferred:
            # The model repeating a rejected assumption is not evidence.
            ledger.put(fact.model_copy(update={"status": "rejected"}))
            return
        for blocker in blockers:
            if _is_guard(blocker):
                ledger.retire(blocker, "superseded", fact.id)
    for old in ledger.active():
        if old.id == fact.id or old.subject != fact.subject:
            continue
        replaces = (old.key == fact.key and _single_valued(fact.key)) or (
            _OPPOSITES.get(old.key) == fact.key and _same_value(old.value, fact.value)
        )
        if replaces:
            ledger.retire(old, "superseded", fact.id)
    ledger.put(fact.model_copy(update={"status": "active", "superseded_by": None}), fresh=True)


def _correction_target(claim: Claim, ledger: _Ledger) -> Fact | None:
    active = ledger.claimable()
    if claim.key:
        same_key = [
            f
            for f in active
            if f.key == claim.key
            and (
                f.subject == claim.subject
                or claim.subject in _GENERIC_SUBJECTS
                or f.subject in _GENERIC_SUBJECTS
            )
        ]
        return ledger.latest(same_key)
    if claim.previous:
        previous = claim.previous
        for attempt in (previous, previous.split(" ", 1)[-1]):
            holding = [f for f in active if _mentions(f.value, attempt)]
            if holding:
                return ledger.latest(holding)
        return None
    thread = [f for f in active if f.id not in ledger.durable]
    wanted = _words(claim.value)
    scored = [(len(wanted & _words(f.value)), f) for f in thread]
    best = max((score for score, _ in scored), default=0)
    if best > 0:
        return ledger.latest([f for score, f in scored if score == best])
    return ledger.latest(thread)


def _correct(claim: Claim, ledger: _Ledger, ctx: _Context) -> None:
    target = _correction_target(claim, ledger)
    if target is None:
        key = claim.key or "note"
        _admit(_new_fact(claim, key, claim.value, claim.subject, ctx), ledger)
        return
    key = claim.key or target.key
    subject = target.subject if claim.subject in (*_GENERIC_SUBJECTS, "user") else claim.subject
    value = claim.value
    if claim.previous and _mentions(target.value, claim.previous):
        start = normalize(target.value).find(normalize(claim.previous))
        value = target.value[:start] + claim.value + target.value[start + len(claim.previous) :]
    if not claim.key:
        # An unnamed correction keeps the scope and sensitivity of what it corrects.
        claim = claim.model_copy(update={"scope": target.scope, "sensitivity": target.sensitivity})
    fact = _new_fact(claim, key, value, subject, ctx)
    if fact.id != target.id:
        ledger.retire(target, "superseded", fact.id)
    _admit(fact, ledger)


def _last_assistant_text(before: str, ctx: _Context) -> tuple[str | None, str]:
    ids = [message_id(m) for m in ctx.messages]
    end = ids.index(before) if before in ids else len(ctx.messages)
    for message in reversed(ctx.messages[:end]):
        if message.type == "ai" and message_text(message).strip():
            first = message_text(message).strip().split("\n")[0]
            return message_id(message), first[:200]
    return None, ""


def _reject(claim: Claim, ledger: _Ledger, ctx: _Context) -> None:
    value = claim.value
    if value:
        targets = [
            f
            for f in ledger.claimable()
            if _same_value(f.value, value) or _mentions(value, f.value)
        ]
    else:
        turn_id, text = _last_assistant_text(claim.source_turn_id, ctx)
        inferred = [
            f
            for f in ledger.active()
            if f.trust_level is TrustLevel.MODEL_INFERRED and f.source_turn_id == turn_id
        ]
        targets = inferred
        value = inferred[-1].value if inferred else text
        if not value:
            return
    for target in targets:
        ledger.retire(target, "rejected")
    marker = claim.model_copy(update={"scope": "thread", "sensitivity": "none"})
    fact = _new_fact(marker, "do_not_assume", value, "user", ctx)
    if fact.id not in ledger.facts or ledger.facts[fact.id].status != "active":
        ledger.put(fact.model_copy(update={"status": "active"}), fresh=True)
    if "correction" not in ledger.events:
        ledger.events.append("correction")


def _retract(claim: Claim, ledger: _Ledger, ctx: _Context) -> None:
    """Retire what a retraction names ("I no longer live in Paris") and record that.

    The matching facts are superseded by a ``no_longer`` fact (``no_longer:lives_in``
    when the claim names its key), which is packed, and which a later statement
    by the user or a tool supersedes in turn (the model repeating the old fact is
    recorded as rejected).
    """
    value = claim.value.strip()
    if not value:
        return
    targets = [
        f
        for f in ledger.claimable()
        if f.subject == claim.subject and _retracted_by(claim.key, value, f)
    ]
    key = _NO_LONGER + (f":{claim.key}" if claim.key else "")
    # The marker is about this thread; durable facts it retires are rewritten in the
    # store with their new status, so other threads stop using them too.
    marker_claim = claim.model_copy(update={"scope": "thread", "expires_at": None})
    marker = _new_fact(marker_claim, key, value, claim.subject, ctx)
    # Who says it matters: the model inferring that something stopped being true
    # does not retire what the user or a tool said.
    rank = _TRUST_RANK[marker.trust_level]
    targets = [f for f in targets if _TRUST_RANK[f.trust_level] <= rank]
    if marker.trust_level is TrustLevel.MODEL_INFERRED and not targets:
        return
    for target in targets:
        ledger.retire(target, "superseded", marker.id)
    known = ledger.facts.get(marker.id)
    if known is None or known.status != "active":
        ledger.put(marker.model_copy(update={"status": "active", "superseded_by": None}))
    if "correction" not in ledger.events:
        ledger.events.append("correction")


def _next_task(
    task: TaskState | None, extraction: Extraction, pending: Sequence[MemoryCandidate]
) -> tuple[TaskState | None, bool]:
    changed = False
    if extraction.task and (
        task is None or normalize(extraction.task) != normalize(task.task_name)
    ):
        entities = dict(task.entity_ids) if task is not None else {}
        task = TaskState(
            task_name=extraction.task, current_step=extraction.step or "", entity_ids=entities
        )
        changed = True
    elif extraction.step and task is not None and extraction.step != task.current_step:
        task = task.model_copy(update={"current_step": extraction.step})
    if task is None:
        return None, changed
    entities = dict(task.entity_ids)
    for name, ident in extraction.entities.items():
        named = [n for n, i in entities.items() if i == ident]
        if named and (" " not in name or any(" " in n for n in named)):
            continue  # keep the name that says what the entity is
        for old in named:
            del entities[old]
        entities[name] = ident
    if len(entities) > _MAX_ENTITIES:
        entities = dict(list(entities.items())[-_MAX_ENTITIES:])
    approvals = [
        f"{candidate.id} ({candidate.fact.key}: {candidate.fact.value})" for candidate in pending
    ]
    if entities != task.entity_ids or approvals != task.pending_approvals:
        task = task.model_copy(update={"entity_ids": entities, "pending_approvals": approvals})
    return task, changed


def reconcile(
    extraction: Extraction,
    *,
    messages: Sequence[BaseMessage],
    turns: Sequence[BaseMessage],
    facts: Sequence[Fact] = (),
    durable: Sequence[Fact] = (),
    pending: Sequence[MemoryCandidate] = (),
    task: TaskState | None = None,
    watermark: str | None = None,
    config: MemoryConfig | None = None,
    now: datetime | None = None,
    remember: bool = True,
) -> FactUpdate:
    """Apply an extractor's claims to what is known, enforcing the invariants.

    Args:
        extraction: What the extractor found in ``turns``.
        messages: The whole window (for "that's wrong" and references).
        turns: The new turns the extraction read.
        facts: The thread's facts.
        durable: The user's durable facts (from the store).
        pending: Candidates still waiting for a human.
        task: The active task.
        watermark: The previous watermark, kept when there are no new turns.
        config: Expiry and approval settings.
        now: The time, when a turn carries no ``created_at``.
        remember: Whether durable memory is available; without it nothing is
            proposed.

    Returns:
        The update.
    """
    config = config or MemoryConfig()
    ctx = _Context(
        turns={message_id(t): t for t in turns},
        messages=messages,
        config=config,
        now=now or datetime.now(UTC),
    )
    ledger = _Ledger(facts, durable)
    for claim in extraction.claims:
        if claim.action == "reject":
            _reject(claim, ledger, ctx)
        elif claim.action == "retract":
            _retract(claim, ledger, ctx)
        elif claim.action == "correct":
            _correct(claim, ledger, ctx)
        elif claim.key and claim.value.strip():
            _admit(_new_fact(claim, claim.key, claim.value, claim.subject, ctx), ledger)

    changed = list(ledger.changed.values())
    candidates = [
        candidate_for(fact, config=config)
        for fact in changed
        if remember
        and fact.id in ledger.fresh
        and fact.status == "active"
        and fact.scope in ("user", "tenant")
        and fact.id not in ledger.durable
        and not fact.is_expired(ctx.now)
    ]
    retired = {f.id for f in changed if f.status != "active"}
    write = [c.fact for c in candidates if c.reason is None]
    write += [f for f in changed if f.id in ledger.durable and f.status != "active"]
    # Candidates still pending were shown by an interrupt the user moved on from.
    waiting = {
        c.id: c.model_copy(update={"asked": True, "moved_on": c.moved_on + 1})
        for c in pending
        if c.fact.id not in retired
    }
    waiting.update((c.id, c) for c in candidates if c.reason is not None)
    next_task, task_changed = _next_task(task, extraction, list(waiting.values()))

    references = None
    window = [m for m in messages if not isinstance(m, RemoveMessage)]
    humans = [i for i, m in enumerate(window) if isinstance(m, HumanMessage)]
    if humans and message_id(window[humans[-1]]) in ctx.turns:
        at = humans[-1]
        references = resolve_references(
            window[at],
            history=window[max(0, at - config.reference_window) : at],
            facts=ledger.active(),
            task=next_task,
        )
    events = list(ledger.events) + (["task_change"] if task_changed else [])
    return FactUpdate(
        facts=changed,
        candidates=candidates,
        write=write,
        pending=list(waiting.values()),
        task=next_task,
        references=references,
        events=events,
        watermark=message_id(turns[-1]) if turns else watermark,
        history_limit=config.fact_history_limit,
    )


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
    known = [*facts, *durable]
    extraction = (
        (extractor or RuleBasedExtractor()).extract(turns, existing=known, now=moment)
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
    known = [*facts, *durable]
    extraction = (
        await (extractor or RuleBasedExtractor()).aextract(turns, existing=known, now=moment)
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
