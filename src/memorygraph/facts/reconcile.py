"""The reconciler: apply an extractor's claims to what is known, keeping the invariants.

Extractors only read; `reconcile` decides. The invariants hold whatever the
extractor:

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
* Facts worth keeping across threads become `MemoryCandidate`s through the
  memory boundary (`memorygraph.facts.candidates`). Those that need no approval
  are to be written to durable memory at once; the others (sensitive, personal,
  model-inferred, tenant-wide) wait in ``pending`` for the `approve` node.

It also follows the active task (`memorygraph.facts.tasks`) and resolves the
current request's back-references (`memorygraph.facts.references`).

Example:
    >>> from datetime import UTC, datetime
    >>> from langchain_core.messages import HumanMessage
    >>> from memorygraph.extractors.base import Claim, Extraction
    >>> turns = [HumanMessage("I live in Lisbon.", id="h1"),
    ...          HumanMessage("Actually, I moved to Porto.", id="h2")]
    >>> claims = [Claim(key="lives_in", value="Lisbon", source_turn_id="h1"),
    ...           Claim(action="correct", key="lives_in", value="Porto", source_turn_id="h2")]
    >>> update = reconcile(Extraction(claims=claims), messages=turns, turns=turns,
    ...                    now=datetime(2026, 1, 5, tzinfo=UTC))
    >>> [(f.value, f.status) for f in update.facts]
    [('Lisbon', 'superseded'), ('Porto', 'active')]
    >>> update.events, update.watermark
    (['correction'], 'h2')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.types import Overwrite

from memorygraph.config import MemoryConfig
from memorygraph.extractors.base import Claim, Extraction
from memorygraph.facts.candidates import max_sensitivity, propose, sensitivity_floor
from memorygraph.facts.keys import (
    DO_NOT_ASSUME,
    NO_LONGER,
    OPPOSITES,
    base_key,
    comparable,
    fact_id,
    is_guard,
    is_single_valued,
    is_taste,
    normalize,
)
from memorygraph.facts.references import resolve_references
from memorygraph.facts.tasks import next_task
from memorygraph.records import Fact, MemoryCandidate, ResolvedReference, TaskState, TrustLevel
from memorygraph.state import merge_facts, trim_facts
from memorygraph.turns import message_id, message_text, message_window

__all__ = ["FactUpdate", "reconcile"]

_GENERIC_SUBJECTS = frozenset({"task", "it", "this", "that"})
_TRUST_RANK = {
    TrustLevel.MODEL_INFERRED: 0,
    TrustLevel.USER_CLAIMED: 1,
    TrustLevel.TOOL_OBSERVED: 2,
    TrustLevel.SYSTEM_VERIFIED: 3,
}


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
    left, right = comparable(a), comparable(b)
    return bool(left) and left == right


def _retracted_by(key: str | None, value: str, fact: Fact) -> bool:
    """Whether a retraction of ``value`` (under ``key``, if named) covers ``fact``.

    With a key, the values must overlap as whole phrases ("Paris" and "Paris,
    France"). Without one ("I don't eat meat anymore"), only a taste the phrase
    names is covered ("likes: meat"), never a name or place it happens to contain.
    """
    if is_guard(fact.key):
        return False
    if key is not None:
        return fact.key == key and (
            _same_value(fact.value, value)
            or _mentions(fact.value, value)
            or _mentions(value, fact.value)
        )
    return is_taste(fact.key) and (_same_value(fact.value, value) or _mentions(value, fact.value))


def _retracts(marker: Fact, fact: Fact) -> bool:
    """Whether an active ``no_longer`` marker says ``fact`` stopped being true."""
    if marker.status != "active" or marker.subject != fact.subject:
        return False
    base, _, key = marker.key.partition(":")
    return base == NO_LONGER and _retracted_by(key or None, marker.value, fact)


def _mentions(text: str, value: str) -> bool:
    """Whether ``text`` contains ``value`` as a whole phrase."""
    phrase = normalize(value)
    return len(phrase) >= 3 and f" {phrase} " in f" {normalize(text)} "


def _words(text: str) -> set[str]:
    return {w for w in normalize(text).replace(",", " ").split() if len(w) > 2}


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
        return [f for f in self.active() if not is_guard(f.key)]

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
        or (f.key == DO_NOT_ASSUME and f.status == "active" and _same_value(f.value, fact.value))
        or (base_key(f.key) == NO_LONGER and _retracts(f, fact))
    ]
    if (known is not None and known.status == "rejected") or blockers:
        if inferred:
            # The model repeating a rejected assumption is not evidence.
            ledger.put(fact.model_copy(update={"status": "rejected"}))
            return
        for blocker in blockers:
            if is_guard(blocker.key):
                ledger.retire(blocker, "superseded", fact.id)
    for old in ledger.active():
        if old.id == fact.id or old.subject != fact.subject:
            continue
        replaces = (old.key == fact.key and is_single_valued(fact.key)) or (
            OPPOSITES.get(old.key) == fact.key and _same_value(old.value, fact.value)
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
    fact = _new_fact(marker, DO_NOT_ASSUME, value, "user", ctx)
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
    key = NO_LONGER + (f":{claim.key}" if claim.key else "")
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
    candidates = (
        propose(changed, fresh=ledger.fresh, durable=ledger.durable, config=config, now=ctx.now)
        if remember
        else []
    )
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
    task_after, task_changed = next_task(task, extraction, list(waiting.values()))

    references = None
    split = message_window(messages)
    window, at = split.messages, split.request_index
    if split.request is not None and message_id(split.request) in ctx.turns:
        references = resolve_references(
            split.request,
            history=window[max(0, at - config.reference_window) : at],
            facts=ledger.active(),
            task=task_after,
        )
    events = list(ledger.events) + (["task_change"] if task_changed else [])
    return FactUpdate(
        facts=changed,
        candidates=candidates,
        write=write,
        pending=list(waiting.values()),
        task=task_after,
        references=references,
        events=events,
        watermark=message_id(turns[-1]) if turns else watermark,
        history_limit=config.fact_history_limit,
    )
