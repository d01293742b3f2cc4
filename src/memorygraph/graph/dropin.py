"""`add_memory`: put memorygraph in front of the model node of a graph you already have.

`add_memory` returns a new graph with your state, your nodes and your edges,
plus memorygraph's nodes (``extract_facts -> [approve] -> [summarize] -> pack_context``),
every edge that led to your model node sent through them, and the keys they
write added to your state. It is built with LangGraph's public ``StateGraph``
methods (``add_node``, ``add_edge``, ``add_conditional_edges``) from what your
builder declares, which it reads and leaves as it was. Your model node then
sends `memorygraph.context_messages` (``state["context_package"].to_messages()``)
instead of ``state["messages"]``.

The state may be LangGraph's `MessagesState` (its ``messages`` keeps
`add_messages`), `memorygraph.MemoryState` (``messages`` keeps the validating
`memorygraph.state.add_turns`), or your own subclass of either: your keys and
your reducers are left alone.

Example:
    >>> from langchain_core.messages import AIMessage, HumanMessage
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> from langgraph.graph import START, MessagesState, StateGraph
    >>> from langgraph.store.memory import InMemoryStore
    >>> from memorygraph import MemoryContext, add_memory, context_messages
    >>> from memorygraph.checkpointers import memorygraph_serializer
    >>> def agent(state):
    ...     sent = context_messages(state)  # what memory packed
    ...     return {"messages": [AIMessage(f"I was sent {len(sent)} messages")]}
    >>> builder = StateGraph(MessagesState)
    >>> _ = builder.add_node("agent", agent)
    >>> _ = builder.add_edge(START, "agent")
    >>> with_memory = add_memory(builder, before="agent")
    >>> graph = with_memory.compile(checkpointer=InMemorySaver(serde=memorygraph_serializer()),
    ...                             store=InMemoryStore())
    >>> out = graph.invoke({"messages": [HumanMessage("hi")]},
    ...                    {"configurable": {"thread_id": "t1"}},
    ...                    context=MemoryContext(tenant_id="acme", user_id="ana"))
    >>> out["messages"][-1].content, out["context_package"].total_tokens > 0
    ('I was sent 2 messages', True)
"""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnableSequence
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from typing_extensions import TypedDict

from memorygraph.checkpointers import accept_records
from memorygraph.config import MemoryConfig
from memorygraph.context import resolve_identity
from memorygraph.graph._bound import require_store
from memorygraph.graph._guard import aload_thread, load_thread, owner_config, validate_run_input
from memorygraph.graph.builder import adopt, build_memory_graph
from memorygraph.state import MemoryState

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


def _redirected_path(path: Runnable[Any, Any], name: str, old: str, new: str) -> Runnable[Any, Any]:
    """A routing function whose destinations are known only at run time, redirected.

    It keeps the branch's name: LangGraph names a conditional edge after its path.
    """

    def remap(result: Any) -> Any:
        if isinstance(result, str):
            return _remap(result, old, new)
        if isinstance(result, list):
            return [_remap(r, old, new) if isinstance(r, str) else r for r in result]
        return result  # a Send carries its own input: it goes where it says

    return RunnableSequence(path, RunnableLambda(remap), name=name)


def _copy_node(
    graph: StateGraph[Any, Any, Any, Any],
    builder: StateGraph[Any, Any, Any, Any],
    name: str,
    input_schema: type[Any],
) -> None:
    """Add ``builder``'s node ``name`` to ``graph``, as it was added (``add_node``'s options)."""
    spec = builder.nodes[name]
    options: dict[str, Any] = {}
    for option in ("timeout", "trace_policy"):  # newer LangGraph releases only
        if getattr(spec, option, None) is not None:
            options[option] = getattr(spec, option)
    handler = getattr(spec, "error_handler_node", None)
    if handler is not None:
        options["error_handler"] = builder.nodes[handler].runnable
    graph.add_node(
        name,
        spec.runnable,
        input_schema=input_schema,
        metadata=spec.metadata,
        retry_policy=spec.retry_policy,
        cache_policy=spec.cache_policy,
        defer=spec.defer,
        destinations=spec.ends or None,
        **options,
    )


def _add_memory_steps(
    graph: StateGraph[Any, Any, Any, Any],
    memory: StateGraph[Any, Any, Any, Any],
    schema: type[Any],
    before: str,
) -> str:
    """Add memory's nodes, wired among themselves to end in ``before``; return its entry."""
    for name in memory.nodes:
        _copy_node(graph, memory, name, schema)
    for start, end in memory.edges:
        if start != START:
            graph.add_edge(start, before if end == END else end)
    for start, branches in memory.branches.items():
        for branch in branches.values():
            ends = {k: _remap(v, END, before) for k, v in (branch.ends or {}).items()}
            graph.add_conditional_edges(start, branch.path, ends or None)
    (entry,) = (end for start, end in memory.edges if start == START)
    return entry


def _rebuilt(
    builder: StateGraph[Any, Any, Any, Any],
    before: str,
    memory: StateGraph[Any, Any, Any, Any],
    schema: type[Any],
    model_input: type[Any],
    config: MemoryConfig,
) -> tuple[_MemoryBuilder, int]:
    """A new graph: ``builder``'s and memory's nodes, every edge into ``before`` sent to memory."""
    graph = _MemoryBuilder(
        schema,
        builder.context_schema,
        input_schema=builder.input_schema
        if builder.input_schema is not builder.state_schema
        else schema,
        # So that invoke() and get_state() show the package, as with the memory graph.
        output_schema=schema
        if builder.output_schema is builder.state_schema
        else builder.output_schema,
    )
    graph.memory_config = config
    for name, spec in builder.nodes.items():
        if getattr(spec, "is_error_handler", False):
            continue  # added again with the node it handles
        wanted = model_input if name == before else spec.input_schema
        _copy_node(graph, builder, name, wanted)
    # Memory's nodes first: an edge that waits for several nodes needs its end to exist.
    entry = _add_memory_steps(graph, memory, schema, before)
    redirected = 0
    for start, end in sorted(builder.edges):
        redirected += end == before
        graph.add_edge(start, _remap(end, before, entry))
    for starts, end in _join_edges(builder):
        redirected += end == before
        graph.add_edge(starts, _remap(end, before, entry))
    for start, branches in builder.branches.items():
        for name, branch in branches.items():
            if branch.ends is None:
                path, ends = _redirected_path(branch.path, name, before, entry), None
                redirected += 1  # where it leads is known only at run time
            else:
                ends = {label: _remap(end, before, entry) for label, end in branch.ends.items()}
                path, redirected = branch.path, redirected + (before in branch.ends.values())
            graph.add_conditional_edges(start, path, ends)
    return graph, redirected


def _join_edges(builder: StateGraph[Any, Any, Any, Any]) -> list[tuple[list[str], str]]:
    """The edges that wait for several nodes (``add_edge([a, b], c)``), from the public drawing.

    The graph's drawing (``compile().get_graph()``) shows a join as one plain
    edge from each node it waits for; the edges that are not the builder's own
    plain edges are the joins', grouped by the node they lead to. Two joins
    into one node come back as one join over all of their nodes.
    """
    plain = set(builder.edges)
    try:
        drawn = builder.compile().get_graph().edges
    except ValueError:  # not a graph yet (no entry point, ...): add_memory says what is missing
        return []
    sources: dict[str, set[str]] = {}
    for edge in drawn:
        if not edge.conditional and (edge.source, edge.target) not in plain:
            sources.setdefault(edge.target, set()).add(edge.source)
    return [(sorted(starts), end) for end, starts in sorted(sources.items())]


class _GraphWithMemory(CompiledStateGraph[Any, Any, Any, Any]):
    """A graph `add_memory` prepared: it checks a run's input before LangGraph saves it.

    LangGraph saves the input as a checkpoint before the first node runs, so a
    request that cannot fit would land in the thread before ``pack_context``
    refused it. A run with a saver of its own (not a subgraph call) runs
    `memorygraph.graph._guard.validate_run_input` first, as `MemoryGraph` does,
    and records the thread's owner in every checkpoint it writes.
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
            validate_run_input(input, identity, saved, self.memory_config, nodes=self.nodes)
            config = owner_config(config, identity)
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
            validate_run_input(input, identity, saved, self.memory_config, nodes=self.nodes)
            config = owner_config(config, identity)
        async for chunk in super().astream(input, config, **kwargs):
            yield chunk


class _MemoryBuilder(StateGraph[Any, Any, Any, Any]):
    """The graph `add_memory` returns: its ``compile`` returns a `_GraphWithMemory`."""

    memory_config: MemoryConfig

    def compile(self, *args: Any, **kwargs: Any) -> _GraphWithMemory:
        """Compile as LangGraph does; the graph checks each run's input before it is saved."""
        compiled = super().compile(*args, **kwargs)
        if isinstance(compiled.checkpointer, BaseCheckpointSaver):
            # memorygraph's records load without a warning each (checkpointers/_serde.py).
            compiled.checkpointer = accept_records(compiled.checkpointer)
        return adopt(compiled, _GraphWithMemory, self.memory_config)


def add_memory(
    builder: StateGraph[Any, Any, Any, Any],
    *,
    before: str,
    config: MemoryConfig | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """Return your graph with memorygraph run before your model node.

    Call it after your nodes and edges are added, and compile the graph it
    returns as usual (with a checkpointer, and a store for the audit log and
    durable memory). The graph is a new `StateGraph` built with LangGraph's
    public methods: your nodes, with their options, and your edges, except
    that every edge that led to ``before`` (from ``START``, from a ``ToolNode``,
    from a conditional edge) now leads through memorygraph's nodes, which end
    in ``pack_context``, and then to ``before``. Your builder is left as it was.

    Your model node reads what to send with `memorygraph.context_messages`
    (``state["context_package"].to_messages()``). The memory nodes are the ones
    `memorygraph.build_memory_graph` wires (with no model), with the same names.
    The keys they write (``context_package``, ``facts``, ``summary``, ...) are
    added to your state and to its output, so
    ``graph.get_state(cfg).values["context_package"]`` is the package of the last
    model call. Your own keys are neither read for memory nor written.

    The compiled graph checks every run's input before LangGraph saves it, as
    `MemoryGraph` does: who is calling (`IdentityError`), the new messages
    (`InvalidMessageError`), a resume of a pending approval, and that the request
    alone fits the budget (`ContextBudgetExceeded`). A refused run leaves the
    thread's state and checkpoint history as they were.

    Args:
        builder: Your uncompiled `StateGraph`. Its state must have ``messages``.
        before: The name of your model node.
        config: Budgets, shares and texts (defaults to ``MemoryConfig()``).

    Returns:
        The new, uncompiled graph. A node of yours that jumps to the model with
        ``Command(goto=...)`` should jump to ``"extract_facts"`` instead, to go
        through memory.

    Raises:
        TypeError: When given a compiled graph (pass the `StateGraph` you
            compiled it from; for a ``create_agent`` agent use `MemoryMiddleware`).
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
    if not isinstance(builder, StateGraph):
        raise TypeError(_NOT_A_BUILDER.format(kind=type(builder).__name__))
    if before not in builder.nodes:
        raise ValueError(f"no node {before!r} in the graph: add your model node first")
    memory_config = config or MemoryConfig()
    memory = build_memory_graph(None, config=memory_config)
    taken = sorted(set(memory.nodes) & set(builder.nodes))
    if taken:
        raise ValueError(f"node name(s) {taken} are taken; memorygraph adds {sorted(memory.nodes)}")
    memory_keys = _check_state(builder.state_schema)
    schema = _with_memory(builder.state_schema, memory_keys)
    # The model node reads the package, whatever input schema it was given.
    model_input = builder.nodes[before].input_schema
    model_input = (
        schema if model_input is builder.state_schema else _with_memory(model_input, memory_keys)
    )
    graph, redirected = _rebuilt(builder, before, memory, schema, model_input, memory_config)
    if redirected == 0:
        raise ValueError(f"no edge leads to {before!r} yet: add your edges, then call add_memory")
    return graph


_NOT_A_BUILDER = (
    "add_memory takes the uncompiled StateGraph, got a {kind}: call add_memory(builder, "
    'before="<your model node>") before builder.compile(...), and compile the graph it '
    "returns. For an agent made with langchain.agents.create_agent, pass "
    "middleware=[memorygraph.MemoryMiddleware()] to create_agent instead."
)
