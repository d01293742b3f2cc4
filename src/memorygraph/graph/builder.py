"""Build the memory graph: extract_facts, [approve], summarize, pack_context, call_model.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> from memorygraph import MemoryContext, create_memory_graph
    >>> graph = create_memory_graph(checkpointer=InMemorySaver())
    >>> cfg = {"configurable": {"thread_id": "t1"}}
    >>> _ = graph.invoke({"messages": [HumanMessage("Hi, I'm Ana.")]}, cfg,
    ...                  context=MemoryContext(tenant_id="acme", user_id="ana"))
    >>> package = graph.get_state(cfg).values["context_package"]
    >>> package.to_messages()[-1].content
    "Hi, I'm Ana."
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from langgraph.types import Command

from memorygraph.checkpointers import register_types
from memorygraph.config import MemoryConfig
from memorygraph.context import MemoryContext, resolve_identity
from memorygraph.nodes.approve import approve, needs_approval
from memorygraph.nodes.call_model import make_call_model
from memorygraph.nodes.extract_facts import extract_facts
from memorygraph.nodes.pack_context import build_package, make_pack_context
from memorygraph.nodes.summarize import make_summarize
from memorygraph.state import MemoryState, validate_messages

__all__ = ["MemoryGraph", "build_memory_graph", "create_memory_graph"]


def build_memory_graph(
    model: BaseChatModel | None = None, *, config: MemoryConfig | None = None
) -> StateGraph[MemoryState, MemoryContext, MemoryState, MemoryState]:
    """Build the uncompiled memory graph.

    Args:
        model: The chat model. With None, the graph remembers and packs but calls
            no model: ``context_package`` is the result, for your own model node.
        config: Budgets, shares and texts (defaults to ``MemoryConfig()``).

    Returns:
        The `StateGraph`, ready to extend or compile.
    """
    memory_config = config or MemoryConfig()
    builder = StateGraph(MemoryState, context_schema=MemoryContext)
    # The nodes accept any mapping state (so they drop into other graphs), which
    # LangGraph's overloads cannot express; the graph's own schema is MemoryState.
    builder.add_node("extract_facts", cast(Any, extract_facts))
    builder.add_node("approve", cast(Any, approve))
    builder.add_node("summarize", cast(Any, make_summarize(memory_config)))
    builder.add_node("pack_context", cast(Any, make_pack_context(memory_config)))
    builder.add_edge(START, "extract_facts")
    builder.add_conditional_edges("extract_facts", needs_approval, ["approve", "summarize"])
    builder.add_edge("approve", "summarize")
    builder.add_edge("summarize", "pack_context")
    if model is None:
        builder.add_edge("pack_context", END)
    else:
        builder.add_node("call_model", cast(Any, make_call_model(model)))
        builder.add_edge("pack_context", "call_model")
        builder.add_edge("call_model", END)
    return builder


class MemoryGraph(CompiledStateGraph[MemoryState, MemoryContext, MemoryState, MemoryState]):
    """The compiled memory graph. It checks a run's input before anything is written.

    Bad messages, a missing thread or tenant id, or a request that cannot fit the
    budget raise a `MemoryGraphError` subclass before the first checkpoint, so
    the thread's state is left exactly as it was.
    """

    memory_config: MemoryConfig

    def copy(self, update: dict[str, Any] | None = None) -> MemoryGraph:
        """Copy the graph (``with_config``, and the API server attaching its savers)."""
        copied = super().copy(update)
        copied.memory_config = self.memory_config
        return copied

    def _preflight(self, input: Any, config: RunnableConfig | None, context: Any) -> None:
        identity = resolve_identity(context, config)
        if isinstance(input, Command) or not isinstance(input, Mapping):
            return
        raw = input.get("messages")
        if raw is None:
            return
        new = list(raw) if isinstance(raw, Sequence) and not isinstance(raw, str) else [raw]
        existing = []
        if any(isinstance(m, ToolMessage | dict) for m in new) and self.checkpointer:
            existing = self.get_state(config or {}).values.get("messages", [])
        messages = validate_messages(existing, new)
        build_package({"messages": messages}, identity=identity, config=self.memory_config)

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Check the input (see the class docstring), then stream as LangGraph does.

        When the run ends, also in an interrupt, and ``keep_checkpoints`` is
        ``"latest"``, the thread keeps only its latest checkpoint
        (`memorygraph.checkpointers.prune_thread`). A run that raises, or whose
        stream is closed early, prunes nothing.
        """
        from memorygraph.checkpointers._prune import prune_target

        self._preflight(input, config, kwargs.get("context"))
        target = prune_target(self.checkpointer, config, self.memory_config.keep_checkpoints)
        yield from super().stream(input, config, **kwargs)
        if target is not None:
            target.prune()

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Async twin of `stream`."""
        from memorygraph.checkpointers._prune import prune_target

        self._preflight(input, config, kwargs.get("context"))
        target = prune_target(self.checkpointer, config, self.memory_config.keep_checkpoints)
        async for chunk in super().astream(input, config, **kwargs):
            yield chunk
        if target is not None:
            await target.aprune()


def create_memory_graph(
    model: BaseChatModel | None = None,
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    store: BaseStore | None = None,
    config: MemoryConfig | None = None,
) -> MemoryGraph:
    """Create the compiled memory graph.

    Args:
        model: The chat model, or None to remember and pack only.
        checkpointer: Where threads persist (see `memorygraph.checkpointers.open_checkpointer`).
            memorygraph's record types are registered with its serializer.
        store: Long-term memory and the audit log (see ``open_store``).
        config: Budgets, shares and texts.

    Returns:
        The compiled graph. Run a turn with
        ``graph.invoke({"messages": [...]}, {"configurable": {"thread_id": ...}},
        context=MemoryContext(tenant_id=..., user_id=...))``.
    """
    memory_config = config or MemoryConfig()
    compiled = build_memory_graph(model, config=memory_config).compile(
        checkpointer=register_types(checkpointer) if checkpointer is not None else None,
        store=store,
        name="memorygraph",
    )
    attrs = {k: v for k, v in compiled.__dict__.items() if k != "__orig_class__"}
    graph = MemoryGraph(**attrs)
    graph.memory_config = memory_config
    return graph
