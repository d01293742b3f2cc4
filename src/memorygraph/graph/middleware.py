"""`MemoryMiddleware`: memorygraph in a LangChain ``create_agent`` agent, in one line.

Add it to the agent's middleware, with a checkpointer, a store and
`memorygraph.MemoryContext` as the context schema:

.. code-block:: python

    agent = create_agent(model, tools, system_prompt="You are a travel agent.",
                         middleware=[MemoryMiddleware(config=MemoryConfig(token_budget=4000))],
                         checkpointer=checkpointer, store=store, context_schema=MemoryContext)

Before every model call (`before_model`) it runs the steps of the memory graph,
the very functions its nodes run (`memorygraph.nodes`): it checks who is
calling and the new messages, extracts facts, asks a human about durable-memory
candidates through ``interrupt()`` (the same payload and resume contract as the
graph's ``approve`` node), and folds old turns into the summary, archiving them
in the store and removing them from ``messages``. Around the model call
(`wrap_model_call`) it packs the context with the same packer, the agent's
``system_prompt`` becoming the package's policy, writes the audit record,
sends the package's messages instead of the whole history, strips reasoning from
the reply and keeps ``context_package`` and ``usage`` in the agent's state.

What the middleware cannot do through LangChain's public API is what happens
before the agent's first node: LangGraph saves a run's input before any
middleware runs. So a missing identity, an invalid message or a thread of
another tenant is refused by the first hook (`IdentityError`,
`InvalidMessageError`) after the input is saved, the thread is not locked
against a concurrent run, and old checkpoints are not pruned. `create_memory_graph`
does all three.

Example:
    >>> from langchain.agents import create_agent
    >>> from langchain_core.messages import AIMessage
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> from langgraph.store.memory import InMemoryStore
    >>> from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    >>> from memorygraph import MemoryContext, MemoryMiddleware
    >>> from memorygraph.checkpointers import memorygraph_serializer
    >>> model = GenericFakeChatModel(messages=iter([AIMessage("Hello Ana!")]))
    >>> agent = create_agent(model, [], middleware=[MemoryMiddleware()],
    ...                      checkpointer=InMemorySaver(serde=memorygraph_serializer()),
    ...                      store=InMemoryStore(), context_schema=MemoryContext)
    >>> out = agent.invoke({"messages": [("user", "Hi, I'm Ana.")]},
    ...                    {"configurable": {"thread_id": "t1"}},
    ...                    context=MemoryContext(tenant_id="acme", user_id="ana"))
    >>> out["messages"][-1].content, out["context_package"].total_tokens > 0
    ('Hello Ana!', True)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain.agents.middleware.types import ExtendedModelResponse
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from langgraph.types import Command, Overwrite

from memorygraph.config import MemoryConfig
from memorygraph.context import resolve_identity
from memorygraph.errors import ConfigError
from memorygraph.extractors.base import FactExtractor
from memorygraph.graph._guard import check_owner
from memorygraph.nodes.approval import make_approve, needs_approval
from memorygraph.nodes.extraction import make_extract_facts, new_turns
from memorygraph.nodes.model import arecord_audit, record_audit, strip_reasoning, usage_of
from memorygraph.nodes.packer import make_pack_context
from memorygraph.nodes.steps import MemoryStep
from memorygraph.nodes.summarization import make_summarize
from memorygraph.records import (
    ContextPackage,
    SessionSummary,
    TokenUsage,
)
from memorygraph.state import MemoryKeys, add_events, add_usage, merge_facts, validate_messages
from memorygraph.summarizers.base import Summarizer

__all__ = ["MemoryAgentState", "MemoryMiddleware"]


class MemoryAgentState(AgentState[Any], MemoryKeys):
    """The agent's state with memorygraph's keys (`memorygraph.state.MemoryKeys`, same reducers).

    ``messages`` keeps the agent's `add_messages`: LangChain merges every
    middleware's state with the agent's, and the agent's ``messages`` wins.
    """


# The keys whose channel has a reducer: a step's update goes through it.
_REDUCERS: dict[str, Callable[[Any, Any], Any]] = {
    "messages": add_messages,
    "facts": merge_facts,
    "usage": add_usage,
    "memory_events": add_events,
}


class _Steps:
    """One hook's run of several steps: each sees the state the ones before it left."""

    def __init__(self, state: Mapping[str, Any]) -> None:
        self.view: dict[str, Any] = dict(state)
        self.touched: set[str] = set()
        self.removed: list[AnyMessage] = []

    def fold(self, update: Mapping[str, Any]) -> None:
        for key, value in update.items():
            self.touched.add(key)
            if isinstance(value, Overwrite):
                self.view[key] = value.value
            elif key in _REDUCERS:
                if key == "messages":
                    self.removed += value
                self.view[key] = _REDUCERS[key](self.view.get(key), value)
            else:
                self.view[key] = value

    def update(self) -> dict[str, Any]:
        """The hook's one update: the steps' final values, reducers bypassed where merged."""
        out: dict[str, Any] = {}
        for key in sorted(self.touched):
            if key == "messages":
                out[key] = self.removed  # RemoveMessage of the folded turns
            elif key in _REDUCERS:
                out[key] = Overwrite(self.view.get(key))
            else:
                out[key] = self.view[key]
        return out


def _checked(state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[Any]) -> None:
    """Refuse the run before memorygraph writes anything: identity, owner, new messages."""
    identity = resolve_identity(runtime.context, config)
    package = state.get("context_package")
    if package is not None and not isinstance(package, ContextPackage):
        raise ConfigError(
            "the agent's checkpointer loads memorygraph's records as plain data: open it "
            "with memorygraph.checkpointers.open_checkpointer, or pass it through "
            "memorygraph.checkpointers.register_types(saver)"
        )
    check_owner(identity, state)
    messages: list[BaseMessage] = list(state.get("messages") or ())
    new = new_turns(messages, state.get("extracted_through"))
    validate_messages(messages[: len(messages) - len(new)], new)


def _unread(state: Mapping[str, Any]) -> bool:
    # Extraction marks every waiting candidate as shown: run it only on new turns.
    return bool(new_turns(list(state.get("messages") or ()), state.get("extracted_through")))


def _ask_now(view: Mapping[str, Any], extracted: Mapping[str, Any]) -> bool:
    # Ask when candidates wait, unless this step read new turns: then the
    # candidates are saved first, and asked about at the next model call.
    return needs_approval(view) == "approve" and "extracted_through" not in extracted


def _split(package: ContextPackage) -> tuple[SystemMessage | None, list[AnyMessage]]:
    messages: list[AnyMessage] = list(package.to_messages())  # type: ignore[arg-type]
    if messages and isinstance(messages[0], SystemMessage):
        return messages[0], messages[1:]
    return None, messages


def _model_name(request: ModelRequest[Any]) -> str:
    for attribute in ("model_name", "model"):
        value = getattr(request.model, attribute, None)
        if isinstance(value, str):
            return value
    return type(request.model).__name__


class MemoryMiddleware(AgentMiddleware[MemoryAgentState, Any]):
    """memorygraph for ``langchain.agents.create_agent``: remember, fold, pack, audit.

    Args:
        config: Budgets, shares and texts (defaults to ``MemoryConfig()``). The
            agent's ``system_prompt``, when it has one, replaces ``config.policy``.
        extractor: Reads facts from new turns (the rule-based extractor by default).
        summarizer: Folds old turns (the offline extractive summarizer by default).

    Identity comes from the run's ``context`` (``context_schema=MemoryContext``)
    or from ``configurable``, as for the memory graph, and is refused with
    `IdentityError` when missing. Open the checkpointer with
    `memorygraph.checkpointers.open_checkpointer` (or pass yours through
    ``register_types``) so memorygraph's records load back typed; give the agent
    a store, or nothing is remembered across threads and no turn is folded.

    It replaces ``SummarizationMiddleware`` (use one or the other: both rewrite
    what the model is sent). It composes with ``HumanInTheLoopMiddleware``: that
    one interrupts after the model to review tool calls, this one before the
    model to review memory; each resume answers its own interrupt.
    """

    state_schema = MemoryAgentState

    def __init__(
        self,
        *,
        config: MemoryConfig | None = None,
        extractor: FactExtractor | None = None,
        summarizer: Summarizer | None = None,
    ) -> None:
        super().__init__()
        self.config = config or MemoryConfig()
        self._extract = make_extract_facts(self.config, extractor=extractor)
        self._approve = make_approve(self.config)
        self._summarize = make_summarize(self.config, summarizer=summarizer)
        self._packers: dict[str | None, tuple[MemoryConfig, MemoryStep]] = {}

    @property
    def name(self) -> str:
        """The middleware's node prefix in the agent graph."""
        return "memorygraph"

    def _packer(self, system_prompt: str | None) -> tuple[MemoryConfig, MemoryStep]:
        if system_prompt not in self._packers:
            settings = (
                self.config
                if system_prompt is None
                else self.config.model_copy(update={"policy": system_prompt})
            )
            self._packers[system_prompt] = (settings, make_pack_context(settings))
        return self._packers[system_prompt]

    # ------------------------------------------------------------ before the model

    def before_agent(self, state: MemoryAgentState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Check the run (identity, owner, new messages) and extract facts from its input.

        Extraction runs here, a step before `before_model`, so that the
        candidates are saved before `before_model` asks about them: a resume
        runs the asking step again, never the extraction.
        """
        config = get_config()
        _checked(state, config, runtime)
        return self._extract.run(state, config, runtime) or None

    async def abefore_agent(
        self, state: MemoryAgentState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Async twin of `before_agent`."""
        config = get_config()
        _checked(state, config, runtime)
        return await self._extract.arun(state, config, runtime) or None

    def before_model(self, state: MemoryAgentState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Extract facts from the tool round, ask for approval, fold old turns.

        Candidates found in this same step (in a tool round's messages) are
        saved and asked about at the next model call, so that a resume never
        runs an extraction again.
        """
        config = get_config()
        _checked(state, config, runtime)
        steps = _Steps(state)
        extracted = self._extract.run(steps.view, config, runtime) if _unread(state) else {}
        steps.fold(extracted)
        if _ask_now(steps.view, extracted):
            steps.fold(self._approve.run(steps.view, config, runtime))
        steps.fold(self._summarize.run(steps.view, config, runtime))
        return steps.update() or None

    async def abefore_model(
        self, state: MemoryAgentState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Async twin of `before_model`."""
        config = get_config()
        _checked(state, config, runtime)
        steps = _Steps(state)
        extracted = await self._extract.arun(steps.view, config, runtime) if _unread(state) else {}
        steps.fold(extracted)
        if _ask_now(steps.view, extracted):
            steps.fold(await self._approve.arun(steps.view, config, runtime))
        steps.fold(await self._summarize.arun(steps.view, config, runtime))
        return steps.update() or None

    # ------------------------------------------------------------ around the model

    def _pack(
        self, request: ModelRequest[Any]
    ) -> tuple[MemoryConfig, MemoryStep, dict[str, Any], RunnableConfig]:
        settings, packer = self._packer(request.system_prompt)
        # The request's messages: another middleware before this one may have edited them.
        state = {**request.state, "messages": request.messages}
        return settings, packer, state, get_config()

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ExtendedModelResponse[Any]:
        """Send the package instead of the history; audit it first; keep it and the usage."""
        settings, packer, state, config = self._pack(request)
        package: ContextPackage = packer.run(state, config, request.runtime)["context_package"]
        record_audit(
            package,
            identity=resolve_identity(request.runtime.context, config),
            model=_model_name(request),
            summary_version=_version(state),
            store=request.runtime.store,
            config=settings,
        )
        system, messages = _split(package)
        response = handler(request.override(system_message=system, messages=messages))
        return _extended(response, package)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ExtendedModelResponse[Any]:
        """Async twin of `wrap_model_call`."""
        settings, packer, state, config = self._pack(request)
        packed = await packer.arun(state, config, request.runtime)
        package: ContextPackage = packed["context_package"]
        await arecord_audit(
            package,
            identity=resolve_identity(request.runtime.context, config),
            model=_model_name(request),
            summary_version=_version(state),
            store=request.runtime.store,
            config=settings,
        )
        system, messages = _split(package)
        response = await handler(request.override(system_message=system, messages=messages))
        return _extended(response, package)


def _version(state: Mapping[str, Any]) -> int | None:
    summary = state.get("summary")
    return summary.version if isinstance(summary, SessionSummary) else None


def _extended(response: ModelResponse[Any], package: ContextPackage) -> ExtendedModelResponse[Any]:
    result: Sequence[BaseMessage] = [
        strip_reasoning(m) if isinstance(m, AIMessage) else m for m in response.result
    ]
    replies = [m for m in result if isinstance(m, AIMessage)]
    usage = sum((usage_of(m) for m in replies), TokenUsage())
    return ExtendedModelResponse(
        model_response=ModelResponse(
            result=list(result), structured_response=response.structured_response
        ),
        command=Command(update={"context_package": package, "usage": usage}),
    )
