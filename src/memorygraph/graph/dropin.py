"""`add_memory`: put memorygraph in front of the model node of a graph you already have.

Your graph keeps its state, its nodes and its edges. `add_memory` adds
memorygraph's nodes (``extract_facts -> [approve] -> summarize -> pack_context``),
sends every edge that led to your model node through them, and adds the keys
they write to your state. Your model node then sends
``state["context_package"].to_messages()`` instead of ``state["messages"]``.

The state may be LangGraph's `MessagesState` (its ``messages`` keeps
`add_messages`), `memorygraph.MemoryState` (``messages`` keeps the validating
`memorygraph.state.add_turns`), or your own subclass of either: your keys and
your reducers are left alone.

Example:
    >>> from langchain_core.messages import AIMessage, HumanMessage
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> from langgraph.graph import START, MessagesState, StateGraph
    >>> from langgraph.store.memory import InMemoryStore
    >>> from memorygraph import MemoryContext, add_memory
    >>> from memorygraph.checkpointers import memorygraph_serializer
    >>> def agent(state):
    ...     sent = state["context_package"].to_messages()  # what memory packed
    ...     return {"messages": [AIMessage(f"I was sent {len(sent)} messages")]}
    >>> builder = StateGraph(MessagesState)
    >>> _ = builder.add_node("agent", agent)
    >>> _ = builder.add_edge(START, "agent")
    >>> add_memory(builder, before="agent")
    'extract_facts'
    >>> graph = builder.compile(checkpointer=InMemorySaver(serde=memorygraph_serializer()),
    ...                         store=InMemoryStore())
    >>> out = graph.invoke({"messages": [HumanMessage("hi")]},
    ...                    {"configurable": {"thread_id": "t1"}},
    ...                    context=MemoryContext(tenant_id="acme", user_id="ana"))
    >>> out["messages"][-1].content, out["context_package"].total_tokens > 0
    ('I was sent 2 messages', True)
"""

from __future__ import annotations

import functools
import typing
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from typing_extensions import TypedDict

from memorygraph.checkpointers._serde import accept_records
from memorygraph.config import MemoryConfig
from memorygraph.context import resolve_identity
from memorygraph.graph._bound import require_store
from memorygraph.graph._guard import aload_thread, load_thread
from memorygraph.graph.builder import build_memory_graph, check_input
from memorygraph.state import MemoryState

if TYPE_CHECKING:
    from langgraph.graph._branch import BranchSpec

__all__ = ["add_memory"]


def _reducer(annotation: Any) -> Any:
    """The reducer of an ``Annotated[..., reducer]`` state annotation, else None."""
    for extra in reversed(getattr(annotation, "__metadata__", ())):
        if callable(extra):
            return extra
    return None


def _unwrap(annotation: Any) -> Any:
    # NotRequired[Annotated[...]] keeps the reducer one level down.
    origin = typing.get_origin(annotation)
    if origin is typing.NotRequired or origin is typing.Required:
        return typing.get_args(annotation)[0]
    return annotation


def _check_state(state_schema: type[Any]) -> dict[str, Any]:
    """The memorygraph keys for this state: ours, or the user's where they declare one."""
    theirs = typing.get_type_hints(state_schema, include_extras=True)
    if "messages" not in theirs:
        raise ValueError(
            "add_memory needs a state with a `messages` key: use MessagesState, "
            "memorygraph.MemoryState, or a subclass of either"
        )
    ours = typing.get_type_hints(MemoryState, include_extras=True)
    for key in sorted(set(theirs) & set(ours) - {"messages"}):
        wanted, found = _reducer(_unwrap(ours[key])), _reducer(_unwrap(theirs[key]))
        if wanted is not found:
            raise ValueError(
                f"your state's {key!r} key clashes with memorygraph's "
                f"(reducer {getattr(found, '__name__', found)!r}, memorygraph needs "
                f"{getattr(wanted, '__name__', wanted)!r}): rename your key, or declare it "
                "as memorygraph.MemoryState does"
            )
    return {key: theirs.get(key, annotation) for key, annotation in ours.items()}


def _with_memory(schema: type[Any], memory: dict[str, Any]) -> type[Any]:
    """``schema`` plus the memorygraph keys it lacks, as a new TypedDict."""
    hints = typing.get_type_hints(schema, include_extras=True)
    fields = {**{k: v for k, v in memory.items() if k not in hints}, **hints}
    name = f"{getattr(schema, '__name__', 'State')}WithMemory"
    widened: type[Any] = TypedDict(name, fields, total=False)  # type: ignore[misc]
    return widened


def _remap(target: str, old: str, new: str) -> str:
    return new if target == old else target


def _redirected_branch(spec: BranchSpec, old: str, new: str) -> BranchSpec:
    """The same conditional edge, with destination ``old`` replaced by ``new``."""
    if spec.ends is not None:
        if old not in spec.ends.values():
            return spec
        ends = {label: _remap(target, old, new) for label, target in spec.ends.items()}
        return spec._replace(ends=ends)

    # Without a path map the destinations are only known at run time.
    def remap(result: Any) -> Any:
        if isinstance(result, str):
            return _remap(result, old, new)
        if isinstance(result, list):
            return [_remap(r, old, new) if isinstance(r, str) else r for r in result]
        return result  # a Send carries its own input: it goes where it says

    path: Runnable[Any, Hashable | list[Hashable]] = spec.path | RunnableLambda(remap)
    return spec._replace(path=path)


def _redirect_edges(builder: StateGraph[Any, Any, Any, Any], old: str, new: str) -> int:
    """Point every edge that leads to ``old`` at ``new``; return how many there were."""
    count = 0
    for start, end in sorted(builder.edges):
        if end == old:
            builder.edges.discard((start, end))
            builder.edges.add((start, new))
            count += 1
    for starts, end in sorted(builder.waiting_edges):
        if end == old:
            builder.waiting_edges.discard((starts, end))
            builder.waiting_edges.add((starts, new))
            count += 1
    for branches in builder.branches.values():
        for name, spec in list(branches.items()):
            redirected = _redirected_branch(spec, old, new)
            if redirected is not spec:
                branches[name] = redirected
                count += 1
    return count


class _GraphWithMemory(CompiledStateGraph[Any, Any, Any, Any]):
    """A graph `add_memory` prepared: it checks a run's input before LangGraph saves it.

    LangGraph saves the input as a checkpoint before the first node runs, so a
    request that cannot fit would land in the thread before ``pack_context``
    refused it. A run with a saver of its own (not a subgraph call) runs
    `memorygraph.graph.builder.check_input` first, as `MemoryGraph` does.
    """

    memory_config: MemoryConfig

    def copy(self, update: dict[str, Any] | None = None) -> _GraphWithMemory:
        """Copy the graph (``with_config``, and the API server attaching its savers)."""
        copied = super().copy(update)
        copied.memory_config = self.memory_config
        return copied

    def _saver(self, config: RunnableConfig | None) -> BaseCheckpointSaver[Any] | None:
        configurable = (config or {}).get("configurable") or {}
        if configurable.get("checkpoint_ns"):
            # A subgraph call: the parent run saved its input already, and passes
            # its context through the config, not as ``context=``.
            return None
        # Without a saver nothing is written, and the nodes raise the same errors.
        return self.checkpointer if isinstance(self.checkpointer, BaseCheckpointSaver) else None

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Check the input (identity, messages, the request's budget), then stream."""
        saver = self._saver(config)
        if saver is not None:
            require_store(saver, self.store, where="a graph add_memory prepared")
            identity = resolve_identity(kwargs.get("context"), config)
            # Not `typed`: the user's saver may load memorygraph's records as plain data.
            saved = load_thread(saver, config, identity, typed=False)
            check_input(input, identity, saved, self.memory_config)
        yield from super().stream(input, config, **kwargs)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Async twin of `stream`."""
        saver = self._saver(config)
        if saver is not None:
            require_store(saver, self.store, where="a graph add_memory prepared")
            identity = resolve_identity(kwargs.get("context"), config)
            saved = await aload_thread(saver, config, identity, typed=False)
            check_input(input, identity, saved, self.memory_config)
        async for chunk in super().astream(input, config, **kwargs):
            yield chunk


def _compiling_with_memory(
    compile: Callable[..., CompiledStateGraph[Any, Any, Any, Any]], config: MemoryConfig
) -> Callable[..., _GraphWithMemory]:
    """``builder.compile``, returning the same graph as a `_GraphWithMemory`."""

    @functools.wraps(compile)
    def compile_with_memory(*args: Any, **kwargs: Any) -> _GraphWithMemory:
        compiled = compile(*args, **kwargs)
        if isinstance(compiled.checkpointer, BaseCheckpointSaver):
            # memorygraph's records load without a warning each (checkpointers/_serde.py).
            compiled.checkpointer = accept_records(compiled.checkpointer)
        # The way Pregel.copy rebuilds a graph, with our class (as create_memory_graph does).
        attrs = {k: v for k, v in compiled.__dict__.items() if k != "__orig_class__"}
        graph = _GraphWithMemory(**attrs)
        graph.memory_config = config
        return graph

    return compile_with_memory


def add_memory(
    builder: StateGraph[Any, Any, Any, Any],
    *,
    before: str,
    config: MemoryConfig | None = None,
) -> str:
    """Run memorygraph before your model node, in your own graph.

    Call it after your nodes and edges are added, then compile as usual (with a
    checkpointer, and a store for the audit log and durable memory). Every edge
    that led to ``before`` (from ``START``, from a ``ToolNode``, from a
    conditional edge) now leads through memorygraph's nodes, which end in
    ``pack_context``, and then to ``before``. Your model node reads the package
    from ``state["context_package"]`` and sends ``package.to_messages()``.

    The nodes are the ones `memorygraph.build_memory_graph` wires (with no model),
    with the same names. The keys they write (``context_package``, ``facts``,
    ``summary``, ...) are added to your state and to its output, so
    ``graph.get_state(cfg).values["context_package"]`` is the package of the last
    model call. Your own keys are neither read for memory nor written.

    ``builder.compile(...)`` then checks every run's input before LangGraph saves
    it, as `MemoryGraph` does: who is calling (`IdentityError`), the new messages
    (`InvalidMessageError`), a resume of a pending approval, and that the request
    alone fits the budget (`ContextBudgetExceeded`). A refused run leaves the
    thread's state and checkpoint history as they were.

    Args:
        builder: Your uncompiled `StateGraph`. Its state must have ``messages``.
        before: The name of your model node.
        config: Budgets, shares and texts (defaults to ``MemoryConfig()``).

    Returns:
        The name of the first memory node. A node of yours that jumps to the model
        with ``Command(goto=...)`` should jump here instead, to go through memory.

    Raises:
        ValueError: When ``before`` is not a node yet or nothing leads to it yet,
            when a memorygraph node name is taken, or when your state has no
            ``messages`` or declares a memorygraph key with another reducer.

    Example:
        >>> from langgraph.graph import START, MessagesState, StateGraph
        >>> builder = StateGraph(MessagesState)
        >>> _ = builder.add_node("agent", lambda state: {})
        >>> add_memory(builder, before="agent")
        Traceback (most recent call last):
        ...
        ValueError: no edge leads to 'agent' yet: add your edges, then call add_memory
    """
    if before not in builder.nodes:
        raise ValueError(f"no node {before!r} in the graph: add your model node first")
    memory_config = config or MemoryConfig()
    memory = build_memory_graph(None, config=memory_config)
    taken = sorted(set(memory.nodes) & set(builder.nodes))
    if taken:
        raise ValueError(f"node name(s) {taken} are taken; memorygraph adds {sorted(memory.nodes)}")
    memory_keys = _check_state(builder.state_schema)
    schema = _with_memory(builder.state_schema, memory_keys)
    (entry,) = (end for start, end in memory.edges if start == START)
    if _redirect_edges(builder, before, entry) == 0:
        raise ValueError(f"no edge leads to {before!r} yet: add your edges, then call add_memory")

    for name, spec in memory.nodes.items():
        builder.add_node(
            name,
            spec.runnable,
            input_schema=schema,
            metadata=spec.metadata,
            retry_policy=spec.retry_policy,
            cache_policy=spec.cache_policy,
            defer=spec.defer,
            destinations=spec.ends or None,
        )
    for start, end in memory.edges:
        if start != START:
            builder.add_edge(start, before if end == END else end)
    for start, branches in memory.branches.items():
        for name, branch in branches.items():
            builder.branches[start][name] = _redirected_branch(branch, END, before)
    # The model node reads the package, whatever input schema it was given.
    model_node = builder.nodes[before]
    if model_node.input_schema is builder.state_schema:
        model_node.input_schema = schema
    else:
        model_node.input_schema = _with_memory(model_node.input_schema, memory_keys)
        builder._add_schema(model_node.input_schema)
    if builder.output_schema is builder.state_schema:
        # So that invoke() and get_state() show the package, as with the memory graph.
        builder.output_schema = schema
    # LangGraph's compile builds a plain CompiledStateGraph; this builder's returns
    # one that refuses bad input before anything is written (see _GraphWithMemory).
    builder.compile = _compiling_with_memory(builder.compile, memory_config)  # type: ignore[method-assign]
    return entry
