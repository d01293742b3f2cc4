"""`approve`: ask a human about durable-memory candidates through `interrupt()`.

The graph routes here only when ``pending`` is not empty (`needs_approval`).
The node pauses the run with `langgraph.types.interrupt` and this payload:

.. code-block:: python

    {
        "type": "memorygraph.approval",
        "candidates": [
            {"id": "cand-...", "key": "allergy", "value": "peanuts", "subject": "user",
             "sensitivity": "sensitive", "trust_level": "user_claimed", "scope": "user",
             "expires_at": None, "source_turn_id": "...",
             "reason": "sensitive data (allergy) needs consent",
             "checks": {"relevance": ..., "stability": ..., "consent": ...,
                        "sensitivity": ..., "source": ..., "expiry": ..., "scope": ...}},
        ],
        "reasons": {"cand-...": "sensitive data (allergy) needs consent"},
        "response_schema": {...},  # JSON Schema of the resume value
        "instructions": "...",
    }

Resume with ``Command(resume={"approve": [ids], "reject": [ids], "edit": {id: new_value}})``,
naming every candidate exactly once. Approved and edited candidates are written
to the user's durable memory; rejected ones stay in the thread only (their
scope becomes ``thread``), and are not proposed again in it.

A malformed resume value raises `ResumeValueError` and writes nothing. The
value is validated inside `interrupt()`, so LangGraph does not keep it: the
thread stays paused on the same interrupt and can be resumed again.

LangGraph runs an interrupted node again from its start on resume, so nothing
is written before `interrupt()`, and the writes after it are idempotent: each
fact lands on a store key derived from its content, and an item that already
holds the same content is not written again.

Example:
    >>> from memorygraph.records import Fact
    >>> from memorygraph.facts.candidates import candidate_for
    >>> from memorygraph import MemoryConfig
    >>> fact = Fact(id="f1", key="allergy", value="peanuts", scope="user", sensitivity="sensitive")
    >>> candidate = candidate_for(fact, config=MemoryConfig())
    >>> payload = approval_request([candidate])
    >>> payload["candidates"][0]["id"] == candidate.id, payload["reasons"][candidate.id]
    (True, 'sensitive data (allergy) needs consent')
    >>> parse_resume({"approve": ["nope"]}, [candidate])
    Traceback (most recent call last):
    ...
    memorygraph.errors.ResumeValueError: invalid approval response: unknown candidate id(s) \
['nope']; ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext, resolve_identity
from memorygraph.errors import ResumeValueError, validation_message
from memorygraph.facts.keys import fact_id
from memorygraph.nodes.steps import MemoryStep
from memorygraph.records import Fact, MemoryCandidate, TaskState
from memorygraph.store.facts import aput_facts, put_facts

__all__ = [
    "ApprovalOutcome",
    "ApprovalResponse",
    "apply_approval",
    "approval_request",
    "approve",
    "check_resume",
    "make_approve",
    "needs_approval",
    "parse_resume",
    "response_model",
]

_INSTRUCTIONS = (
    'Resume with Command(resume={"approve": [ids], "reject": [ids], "edit": {id: new value}}), '
    "naming every candidate exactly once. Approved and edited facts are remembered across "
    "threads; rejected ones are not."
)


class ApprovalResponse(BaseModel):
    """The resume value of an approval interrupt.

    Attributes:
        approve: Candidate ids to write to durable memory as they are.
        reject: Candidate ids not to remember beyond this thread.
        edit: Candidate ids mapped to a corrected value, written instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The ids a response must decide; None (this base class) checks no ids.
    candidate_ids: ClassVar[frozenset[str] | None] = None

    approve: list[str] = Field(default_factory=list)
    reject: list[str] = Field(default_factory=list)
    edit: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_ids(self) -> ApprovalResponse:
        expected = type(self).candidate_ids
        named = [*self.approve, *self.reject, *self.edit]
        unknown = sorted(set(named) - expected) if expected is not None else []
        if unknown:
            raise ValueError(f"unknown candidate id(s) {unknown}")
        repeated = sorted({i for i in named if named.count(i) > 1})
        if repeated:
            raise ValueError(f"candidate id(s) {repeated} are named more than once")
        missing = sorted(expected - set(named)) if expected is not None else []
        if missing:
            raise ValueError(f"candidate id(s) {missing} are not decided")
        blank = sorted(i for i, value in self.edit.items() if not value.strip())
        if blank:
            raise ValueError(f"edit gives an empty value for {blank}")
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        ids = sorted(cls.candidate_ids or ())
        properties = schema.get("properties", {})
        if ids and properties:
            for name in ("approve", "reject"):
                properties[name]["items"] = {"type": "string", "enum": ids}
            properties["edit"]["propertyNames"] = {"enum": ids}
        return schema


def response_model(pending: Sequence[MemoryCandidate]) -> type[ApprovalResponse]:
    """Return the resume-value model for these candidates (it checks their ids)."""
    ids = frozenset(candidate.id for candidate in pending)
    namespace = {"candidate_ids": ids, "__module__": __name__}
    return type("ApprovalResponse", (ApprovalResponse,), namespace)


def approval_request(pending: Sequence[MemoryCandidate]) -> dict[str, Any]:
    """Return the interrupt payload for these candidates (JSON-safe)."""
    candidates = []
    for candidate in pending:
        fact = candidate.fact
        candidates.append(
            {
                "id": candidate.id,
                "key": fact.key,
                "value": fact.value,
                "subject": fact.subject,
                "sensitivity": fact.sensitivity,
                "trust_level": fact.trust_level.value,
                "scope": fact.scope,
                "expires_at": fact.expires_at.isoformat() if fact.expires_at else None,
                "source_turn_id": fact.source_turn_id,
                "reason": candidate.reason,
                "checks": dict(candidate.checks),
                "asked_before": candidate.asked,
            }
        )
    return {
        "type": "memorygraph.approval",
        "candidates": candidates,
        "reasons": {candidate.id: candidate.reason for candidate in pending},
        "response_schema": response_model(pending).model_json_schema(),
        "instructions": _INSTRUCTIONS,
    }


def _resume_error(exc: ValidationError, pending: Sequence[MemoryCandidate]) -> ResumeValueError:
    ids = ", ".join(candidate.id for candidate in pending)
    return ResumeValueError(
        f"invalid approval response: {validation_message(exc)}; expected "
        '{"approve": [ids], "reject": [ids], "edit": {id: new value}} naming each of '
        f"[{ids}] exactly once. Nothing was written; resume again with a corrected value."
    )


def parse_resume(value: object, pending: Sequence[MemoryCandidate]) -> ApprovalResponse:
    """Validate a resume value against the pending candidates.

    Raises:
        ResumeValueError: When it is not a mapping of the documented shape, names
            an unknown id, names one twice, or leaves a candidate undecided.
    """
    try:
        return response_model(pending).model_validate(value)
    except ValidationError as exc:
        raise _resume_error(exc, pending) from exc


_INTERRUPT_ID = re.compile(r"^[0-9a-f]{32}$")


def check_resume(command: Command[Any], pending: Sequence[MemoryCandidate]) -> None:
    """Check a ``Command`` sent to a thread that waits for an approval, before it runs.

    LangGraph reads some resume values in its own way before the node sees them:
    ``None`` is no resume at all, and ``{}`` an empty map of interrupt ids. On a
    thread with pending candidates both are refused here, with the same error
    the node gives for any other malformed value. A map keyed by interrupt ids
    is left to LangGraph, and its values to the node.

    Raises:
        ResumeValueError: When the resume value does not decide the candidates.
    """
    if not pending or command.update is not None or command.goto:
        return
    resume = command.resume
    if (
        isinstance(resume, Mapping)
        and resume
        and all(isinstance(key, str) and _INTERRUPT_ID.match(key) for key in resume)
    ):
        return
    parse_resume(resume, pending)


@dataclass(frozen=True)
class ApprovalOutcome:
    """What a decision changes.

    Attributes:
        write: Facts to write to durable memory.
        candidate_ids: The candidate id of each fact to write, by fact id.
        facts: Thread facts that changed (edited, or kept to the thread).
    """

    write: list[Fact] = field(default_factory=list)
    candidate_ids: dict[str, str] = field(default_factory=dict)
    facts: list[Fact] = field(default_factory=list)


def apply_approval(
    decision: ApprovalResponse, pending: Sequence[MemoryCandidate]
) -> ApprovalOutcome:
    """Turn a validated decision into writes and thread updates (pure).

    Example:
        >>> from memorygraph.records import Fact, MemoryCandidate
        >>> c = MemoryCandidate(id="c1", fact=Fact(id="f1", key="email", value="a@x.org",
        ...                                        scope="user"))
        >>> out = apply_approval(parse_resume({"edit": {"c1": "ana@x.org"}}, [c]), [c])
        >>> [f.value for f in out.write], [(f.value, f.status) for f in out.facts]
        (['ana@x.org'], [('a@x.org', 'superseded'), ('ana@x.org', 'active')])
    """
    write: list[Fact] = []
    ids: dict[str, str] = {}
    facts: list[Fact] = []
    for candidate in pending:
        fact = candidate.fact
        if candidate.id in decision.approve:
            write.append(fact)
            ids[fact.id] = candidate.id
        elif candidate.id in decision.edit:
            value = decision.edit[candidate.id].strip()
            edited = fact.model_copy(
                update={"id": fact_id(fact.subject, fact.key, value), "value": value}
            )
            if edited.id != fact.id:
                facts.append(
                    fact.model_copy(update={"status": "superseded", "superseded_by": edited.id})
                )
            facts.append(edited)
            write.append(edited)
            ids[edited.id] = candidate.id
        else:
            # Not remembered beyond this thread, and not proposed again in it.
            facts.append(fact.model_copy(update={"scope": "thread"}))
    return ApprovalOutcome(write=write, candidate_ids=ids, facts=facts)


ASK_AGAIN_TURNS = 1
"""How many new turns that ignore an open approval ask it again before it stops pausing turns."""


def needs_approval(state: Mapping[str, Any]) -> Literal["approve", "summarize"]:
    """Route to ``approve`` when candidates wait for a human, else to ``summarize``.

    A user who sends a new turn instead of answering is asked again on that
    turn: the interrupt carries the waiting candidates again (``asked_before``),
    and the turn is answered once they are decided. A user who moves on a
    second time is not blocked: the turn is packed and answered, and the
    candidates, still pending, are asked again with the next new candidate.
    """
    pending = state.get("pending") or ()
    waiting = any(candidate.moved_on <= ASK_AGAIN_TURNS for candidate in pending)
    return "approve" if waiting else "summarize"


ApproveNode = Callable[[Mapping[str, Any], RunnableConfig, Runtime[MemoryContext]], dict[str, Any]]


def _decide(state: Mapping[str, Any]) -> ApprovalOutcome | None:
    pending: list[MemoryCandidate] = list(state.get("pending") or ())
    if not pending:
        return None
    # Nothing may happen before this line: on resume the node runs again from
    # the top, and only what follows the interrupt runs once.
    try:
        decision = interrupt(approval_request(pending), response_schema=response_model(pending))
    except ValidationError as exc:
        raise _resume_error(exc, pending) from exc
    return apply_approval(decision, pending)


def _changes(state: Mapping[str, Any], outcome: ApprovalOutcome) -> dict[str, Any]:
    changes: dict[str, Any] = {"pending": [], "memory_events": ["approval"]}
    if outcome.facts:
        changes["facts"] = outcome.facts
    task = state.get("task")
    if isinstance(task, TaskState) and task.pending_approvals:
        changes["task"] = task.model_copy(update={"pending_approvals": []})
    return changes


def make_approve(config: MemoryConfig | None = None) -> MemoryStep:
    """Make an ``approve`` node.

    Args:
        config: The memory configuration (``facts_ttl`` applies to the facts
            it writes).

    Returns:
        A node (sync and async) that interrupts with `approval_request`, then on
        resume writes the approved facts to ``runtime.store`` and returns
        ``pending=[]``, the changed facts and the ``approval`` memory event.
    """
    memory_config = config or MemoryConfig()

    def approve(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        outcome = _decide(state)
        if outcome is None:
            return {}
        identity = resolve_identity(runtime.context, config)
        if runtime.store is not None and outcome.write:
            put_facts(
                runtime.store,
                identity.tenant_id,
                identity.user_id,
                outcome.write,
                approved_by="human",
                candidate_ids=outcome.candidate_ids,
                ttl=memory_config.facts_ttl,
                thread_id=identity.thread_id,
            )
        return _changes(state, outcome)

    async def aapprove(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        outcome = _decide(state)
        if outcome is None:
            return {}
        identity = resolve_identity(runtime.context, config)
        if runtime.store is not None and outcome.write:
            await aput_facts(
                runtime.store,
                identity.tenant_id,
                identity.user_id,
                outcome.write,
                approved_by="human",
                candidate_ids=outcome.candidate_ids,
                ttl=memory_config.facts_ttl,
                thread_id=identity.thread_id,
            )
        return _changes(state, outcome)

    return MemoryStep("approve", approve, aapprove)


approve = make_approve()
"""The ``approve`` node."""
