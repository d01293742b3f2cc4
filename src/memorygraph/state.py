"""`MemoryState`: the graph's typed state, with reducers that validate what comes in.

It is a `TypedDict`, so it merges into a user's own state: any state with
``messages`` plus the memorygraph keys a node reads works with that node.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> from memorygraph.state import add_turns
    >>> [m.content for m in add_turns([], [HumanMessage("hi", id="1")])]
    ['hi']
    >>> add_turns([], [42])
    Traceback (most recent call last):
    ...
    memorygraph.errors.InvalidMessageError: messages[0] is int, not a chat message; pass \
langchain_core messages, (role, content) tuples, or {"role", "content"} dicts
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NotRequired

from langchain_core.messages import AnyMessage, BaseMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from memorygraph.errors import ConfigError, InvalidMessageError
from memorygraph.facts.keys import GUARD_KEYS as _GUARD_KEYS
from memorygraph.facts.keys import comparable as _guard_text
from memorygraph.inputs import MAX_MESSAGE_CHARS, validate_messages
from memorygraph.records import (
    ContextPackage,
    Fact,
    MemoryCandidate,
    ResolvedReference,
    SessionSummary,
    TaskState,
    TokenUsage,
)

__all__ = [
    "MAX_MESSAGE_CHARS",
    "MemoryKeys",
    "MemoryState",
    "add_events",
    "add_turns",
    "add_usage",
    "context_messages",
    "merge_facts",
    "trim_facts",
    "validate_messages",
]


def add_turns(left: Sequence[AnyMessage], right: object) -> list[AnyMessage]:
    """The ``messages`` reducer: `add_messages`, after `validate_messages`.

    Args:
        left: The thread's messages.
        right: A message, or a list of messages, to add, replace (same id) or
            remove (`RemoveMessage`).

    Returns:
        The merged list.
    """
    new = right if isinstance(right, list) else [right]
    checked = validate_messages(left, new)
    try:
        return add_messages(list(left), checked)  # type: ignore[arg-type,return-value]
    except ValueError as exc:  # e.g. RemoveMessage for an id the thread does not have
        raise InvalidMessageError(str(exc)) from exc


def merge_facts(left: Sequence[Fact] | None, right: Sequence[Fact] | None) -> list[Fact]:
    """Merge facts by id: a newer version of a fact replaces the older one in place."""
    merged = {fact.id: fact for fact in left or ()}
    for fact in right or ():
        merged[fact.id] = fact
    return list(merged.values())


def trim_facts(facts: Sequence[Fact], *, history_limit: int) -> list[Fact]:
    """Keep every active fact and at most ``history_limit`` superseded or rejected ones.

    History is what a thread's state would otherwise accumulate forever: each
    correction leaves the fact it replaced behind. The newest history is kept
    (a superseded fact counts from when its successor was observed); the rest
    is dropped, in place order otherwise. A rejected fact that is the only
    thing still guarding its value (no active ``do_not_assume`` fact says the
    same) is kept beyond the limit, so the model repeating a rejected assumption
    is still refused after trimming.

    Args:
        facts: The thread's facts, in state order.
        history_limit: The most superseded or rejected facts to keep.

    Returns:
        The facts kept, in their original order.

    Example:
        >>> from memorygraph.records import Fact
        >>> old = [Fact(id=f"f{i}", key="lives_in", value=f"city {i}", status="superseded")
        ...        for i in range(3)]
        >>> now = Fact(id="f3", key="lives_in", value="Porto")
        >>> [f.id for f in trim_facts([*old, now], history_limit=1)]
        ['f2', 'f3']
    """
    history = [(index, fact) for index, fact in enumerate(facts) if fact.status != "active"]
    excess = len(history) - max(history_limit, 0)
    if excess <= 0:
        return list(facts)
    by_id = {fact.id: fact for fact in facts}
    guarded = {
        _guard_text(fact.value)
        for fact in facts
        if fact.status == "active" and fact.key.split(":", 1)[0] in _GUARD_KEYS
    }

    def retired_at(index: int, fact: Fact) -> tuple[float, int]:
        moment = fact.observed_at.timestamp()
        successor = by_id.get(fact.superseded_by or "")
        if successor is not None:
            moment = max(moment, successor.observed_at.timestamp())
        return moment, index

    droppable = sorted(
        (
            (index, fact)
            for index, fact in history
            if fact.status != "rejected" or _guard_text(fact.value) in guarded
        ),
        key=lambda pair: retired_at(*pair),
    )
    dropped = {index for index, _ in droppable[:excess]}
    return [fact for index, fact in enumerate(facts) if index not in dropped]


def add_events(left: Sequence[str] | None, right: Sequence[str] | None) -> list[str]:
    """Collect memory events (``correction``, ``task_change``, ``approval``) until consumed.

    `summarize` consumes them by writing ``Overwrite([])``.
    """
    return [*(left or ()), *(right or ())]


def add_usage(left: TokenUsage | None, right: TokenUsage | None) -> TokenUsage:
    """Sum token usage over the thread."""
    return (left or TokenUsage()) + (right or TokenUsage())


class MemoryKeys(TypedDict):
    """memorygraph's own keys and their reducers, without ``messages``.

    `MemoryState` adds ``messages`` with `add_turns`;
    `memorygraph.graph.middleware.MemoryAgentState` adds them to LangChain's
    ``AgentState``, whose ``messages`` keeps ``add_messages``. The keys are
    described on `MemoryState`.
    """

    facts: NotRequired[Annotated[list[Fact], merge_facts]]
    pending: NotRequired[list[MemoryCandidate]]
    summary: NotRequired[SessionSummary | None]
    task: NotRequired[TaskState | None]
    context_package: NotRequired[ContextPackage | None]
    extracted_through: NotRequired[str | None]
    usage: NotRequired[Annotated[TokenUsage, add_usage]]
    memory_events: NotRequired[Annotated[list[str], add_events]]
    references: NotRequired[list[ResolvedReference]]


class MemoryState(MemoryKeys):
    """The state memorygraph's nodes read and write.

    Attributes:
        messages: The working window of the conversation (validated on entry).
        facts: Facts extracted in this thread: every active one, and the newest
            superseded and rejected ones (`MemoryConfig.fact_history_limit`;
            `extract_facts` trims the rest with `trim_facts`).
        pending: Durable-memory candidates waiting for a human.
        summary: The structured summary of the turns folded away.
        task: The active task and its step.
        context_package: The package packed for the latest model call.
        extracted_through: Id of the last message `extract_facts` has read.
        usage: Token usage reported by the model, summed over the thread.
        memory_events: Events that trigger a summary refresh (``correction``,
            ``task_change``, ``approval``), until `summarize` consumes them.
        references: What the current request's back-references ("the second
            one", "remove it") resolve to; rewritten by `extract_facts` each turn.
    """

    messages: Annotated[list[AnyMessage], add_turns]


def context_messages(state: Mapping[str, Any]) -> list[BaseMessage]:
    """What memory packed for this model call: ``state["context_package"].to_messages()``.

    Your model node sends these instead of ``state["messages"]``.

    Args:
        state: The state your model node was given.

    Returns:
        The package's messages: the policy, the context block and the turns.

    Raises:
        ConfigError: When the state holds no package: memory was never added
            before this node.

    Example:
        >>> context_messages({"messages": []})
        Traceback (most recent call last):
        ...
        memorygraph.errors.ConfigError: no context_package in the state: ...
    """
    package = state.get("context_package")
    if isinstance(package, ContextPackage):
        return package.to_messages()
    raise ConfigError(
        "no context_package in the state: memory runs before this node only in the graph "
        'add_memory returns (graph = add_memory(builder, before="<this node>"), then '
        "graph.compile(...)), or with memorygraph.MemoryMiddleware in create_agent"
    )
