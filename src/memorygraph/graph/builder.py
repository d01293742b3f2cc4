"""Build the memory graph: extract_facts, [approve], [summarize], pack_context, call_model.

Example:
    >>> from langchain_core.messages import HumanMessage
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> from langgraph.store.memory import InMemoryStore
    >>> from memorygraph import MemoryContext, create_memory_graph
    >>> graph = create_memory_graph(checkpointer=InMemorySaver(), store=InMemoryStore())
    >>> cfg = {"configurable": {"thread_id": "t1"}}
    >>> _ = graph.invoke({"messages": [HumanMessage("Hi, I'm Ana.")]}, cfg,
    ...                  context=MemoryContext(tenant_id="acme", user_id="ana"))
    >>> package = graph.get_state(cfg).values["context_package"]
    >>> package.to_messages()[-1].content
    "Hi, I'm Ana."
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.constants import CONFIG_KEY_CHECKPOINTER
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from langgraph.types import StateSnapshot, StateUpdate

from memorygraph.checkpointers import register_types
from memorygraph.config import MemoryConfig
from memorygraph.context import Identity, MemoryContext, resolve_identity
from memorygraph.extractors.base import FactExtractor
from memorygraph.graph._bound import require_store
from memorygraph.graph._guard import (
    aload_saved,
    averify_snapshot,
    corrupt_error,
    database_errors,
    database_failure,
    is_corruption,
    load_saved,
    owner_config,
    validate_run_input,
    validate_state_update,
    verify_snapshot,
)
from memorygraph.graph._lock import athread_lock, prune_target, thread_lock
from memorygraph.nodes.approval import make_approve, needs_approval
from memorygraph.nodes.extraction import make_extract_facts
from memorygraph.nodes.model import make_call_model
from memorygraph.nodes.packer import make_pack_context
from memorygraph.nodes.summarization import make_summarize, summary_due
from memorygraph.state import MemoryState
from memorygraph.store.facts import shared_fact_reads
from memorygraph.store.namespaces import archive_namespace
from memorygraph.store.threads import aregister_thread, register_thread
from memorygraph.tokens import counter_for

__all__ = ["MemoryGraph", "adopt", "build_memory_graph", "check_input", "create_memory_graph"]


def build_memory_graph(
    model: BaseChatModel | None = None,
    *,
    config: MemoryConfig | None = None,
    extractor: FactExtractor | None = None,
) -> StateGraph[MemoryState, MemoryContext, MemoryState, MemoryState]:
    """Build the uncompiled memory graph.

    Args:
        model: The chat model. With None, the graph remembers and packs but calls
            no model: ``context_package`` is the result, for your own model node.
        config: Budgets, shares and texts (defaults to ``MemoryConfig()``).
        extractor: Reads facts from new turns: `memorygraph.extractors.RuleBasedExtractor`
            (the default, offline) or `memorygraph.extractors.LLMExtractor`.

    Returns:
        The `StateGraph`, ready to extend or compile.
    """
    memory_config = config or MemoryConfig()
    builder = StateGraph(MemoryState, context_schema=MemoryContext)
    # The nodes accept any mapping state (so they drop into other graphs), which
    # LangGraph's overloads cannot express; the graph's own schema is MemoryState.
    builder.add_node(
        "extract_facts", cast(Any, make_extract_facts(memory_config, extractor=extractor))
    )
    builder.add_node("approve", cast(Any, make_approve(memory_config)))
    builder.add_node("summarize", cast(Any, make_summarize(memory_config)))
    builder.add_node("pack_context", cast(Any, make_pack_context(memory_config)))
    builder.add_edge(START, "extract_facts")
    builder.add_conditional_edges(
        "extract_facts", _after_extraction(memory_config), ["approve", "summarize", "pack_context"]
    )
    builder.add_edge("approve", "summarize")
    builder.add_edge("summarize", "pack_context")
    if model is None:
        builder.add_edge("pack_context", END)
    else:
        builder.add_node("call_model", cast(Any, make_call_model(model, config=memory_config)))
        builder.add_edge("pack_context", "call_model")
        builder.add_edge("call_model", END)
    return builder


def _after_extraction(
    config: MemoryConfig,
) -> Callable[[Mapping[str, Any]], Literal["approve", "summarize", "pack_context"]]:
    """The route after ``extract_facts``: ``approve``, else ``summarize`` when it is due."""
    counter = counter_for(config)  # the one `summarize` counts with: its counts are cached

    def route_after_extraction(
        state: Mapping[str, Any],
    ) -> Literal["approve", "summarize", "pack_context"]:
        if needs_approval(state) == "approve":
            return "approve"
        return "summarize" if summary_due(state, config=config, counter=counter) else "pack_context"

    return route_after_extraction


class MemoryGraph(CompiledStateGraph[MemoryState, MemoryContext, MemoryState, MemoryState]):
    """The compiled memory graph. It checks a run's input before anything is written.

    Bad messages, a missing thread or tenant id (or, with a store, ids that
    cannot name a store namespace), a thread that belongs to another tenant or
    user, a corrupt stored checkpoint (`CorruptStateError`), or a request that
    cannot fit the budget raise a `MemoryGraphError` subclass before the first
    checkpoint, so the thread's state is left exactly as it was. With a store,
    a new thread is registered to its owner (`memorygraph.store.threads`) once
    its input has passed these checks.
    """

    memory_config: MemoryConfig
    typed_saver: BaseCheckpointSaver[Any] | None = None
    """The saver `create_memory_graph` registered memorygraph's record types with."""

    def copy(self, update: dict[str, Any] | None = None) -> MemoryGraph:
        """Copy the graph (``with_config``, and the API server attaching its savers)."""
        copied = super().copy(update)
        copied.memory_config = self.memory_config
        copied.typed_saver = self.typed_saver
        return copied

    def _check_input(self, input: Any, identity: Identity, saved: Mapping[str, Any]) -> None:
        validate_run_input(input, identity, saved, self.memory_config, nodes=self.nodes)

    def _own_saver(self) -> BaseCheckpointSaver[Any] | None:
        return self.checkpointer if isinstance(self.checkpointer, BaseCheckpointSaver) else None

    def _prunable(self) -> BaseCheckpointSaver[Any] | None:
        # Only the saver the graph was created with: a saver attached to a copy
        # later is the LangGraph API server's, whose storage the platform owns.
        return self.typed_saver if self._typed else None

    @property
    def _typed(self) -> bool:
        # A saver attached later (the API server's) may load records as plain data.
        return self.typed_saver is not None and self.checkpointer is self.typed_saver

    def _preflight(
        self, input: Any, config: RunnableConfig | None, identity: Identity
    ) -> _Primed | None:
        saver = self._own_saver()
        saved, read = (
            load_saved(saver, config, identity, typed=self._typed) if saver else ({}, None)
        )
        self._check_input(input, identity, saved)
        if self.store is not None:
            # The ids become store namespaces: refuse unusable ones before any write.
            archive_namespace(identity.tenant_id, identity.user_id, identity.thread_id)
            if saved.get("context_package") is None:
                register_thread(self.store, identity)
        return self._primed(saver, config, read)

    async def _apreflight(
        self, input: Any, config: RunnableConfig | None, identity: Identity
    ) -> _Primed | None:
        saver = self._own_saver()
        saved, read = (
            await aload_saved(saver, config, identity, typed=self._typed) if saver else ({}, None)
        )
        self._check_input(input, identity, saved)
        if self.store is not None:
            archive_namespace(identity.tenant_id, identity.user_id, identity.thread_id)
            if saved.get("context_package") is None:
                await aregister_thread(self.store, identity)
        return self._primed(saver, config, read)

    def _primed(
        self,
        saver: BaseCheckpointSaver[Any] | None,
        config: RunnableConfig | None,
        read: CheckpointTuple | None,
    ) -> _Primed | None:
        """What the preflight read, for LangGraph's own read of the thread (`_serve_primed`)."""
        key = _read_key(config)
        if saver is None or not self._typed or key is None:
            return None
        return _Primed(saver, key, read)

    def bulk_update_state(
        self, config: RunnableConfig, supersteps: Sequence[Sequence[StateUpdate]]
    ) -> RunnableConfig:
        """Check every update's values (`validate_state_update`), then apply them as LangGraph does.

        ``update_state`` comes here too, as does the API server's state endpoint.
        """
        updates = [update for step in supersteps for update in step]
        if any(update.values is not None for update in updates):
            saved = super().get_state(config).values
            for update in updates:
                validate_state_update(update.values, saved)
        return super().bulk_update_state(config, supersteps)

    async def abulk_update_state(
        self, config: RunnableConfig, supersteps: Sequence[Sequence[StateUpdate]]
    ) -> RunnableConfig:
        """Async twin of `bulk_update_state`."""
        updates = [update for step in supersteps for update in step]
        if any(update.values is not None for update in updates):
            saved = (await super().aget_state(config)).values
            for update in updates:
                validate_state_update(update.values, saved)
        return await super().abulk_update_state(config, supersteps)

    def get_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        """Return the thread's state, or raise `CorruptStateError` if it cannot be loaded."""
        thread_id = (config.get("configurable") or {}).get("thread_id")
        try:
            snapshot = super().get_state(config, subgraphs=subgraphs)
        except Exception as exc:
            if is_corruption(exc):
                raise corrupt_error(thread_id, exc) from exc
            raise
        verify_snapshot(self._own_saver(), config, snapshot.values, typed=self._typed)
        return snapshot

    async def aget_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        """Async twin of `get_state`."""
        thread_id = (config.get("configurable") or {}).get("thread_id")
        try:
            snapshot = await super().aget_state(config, subgraphs=subgraphs)
        except Exception as exc:
            if is_corruption(exc):
                raise corrupt_error(thread_id, exc) from exc
            raise
        await averify_snapshot(self._own_saver(), config, snapshot.values, typed=self._typed)
        return snapshot

    def stream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        """Check the input (see the class docstring), then stream as LangGraph does.

        The run holds its thread (`memorygraph.graph._lock`): another run on the
        same thread, in this process or another one on the same database, waits
        until this one ends, or raises `ThreadBusyError` after two minutes.

        When the run ends, also in an interrupt, and ``keep_checkpoints`` is
        ``"latest"``, the thread keeps only its latest checkpoint
        (`memorygraph.checkpointers.prune_thread`). A run that raises, or whose
        stream is closed early, prunes nothing; nor does a run from a named
        ``checkpoint_id`` (a fork or a replay). On SQLite, a run that prunes
        commits its saves without waiting for the disk, and its prune waits
        once for all of them (`memorygraph.checkpointers.backends.sqlite_sync`).
        The run reads the user's durable facts once, for ``extract_facts`` and
        ``pack_context`` (`memorygraph.store.facts.shared_fact_reads`).
        Run as a subgraph (a node of a parent graph), it streams as LangGraph
        does: the parent run guards the thread.
        """
        if _is_subgraph_call(config):
            yield from super().stream(input, config, **kwargs)
            return
        identity = resolve_identity(kwargs.get("context"), config)  # before waiting
        kwargs = _as_memory_context(kwargs, identity)
        saver, thread_id = self._own_saver(), _root_thread(config)
        lock = thread_lock(saver, thread_id) if saver and thread_id else nullcontext()
        try:
            with lock:  # one run at a time per thread (graph/_lock.py)
                primed = self._preflight(input, config, identity)
                target = (
                    None
                    if _names_checkpoint(config)
                    else prune_target(self._prunable(), config, self.memory_config.keep_checkpoints)
                )
                _PRIMED.set(primed)  # the thread is locked: LangGraph would read the same
                # The prune that ends the run waits for the disk for all its saves.
                deferred = target.deferred_sync() if target is not None else nullcontext()
                try:
                    with deferred, shared_fact_reads():  # one read of the facts per run
                        yield from super().stream(input, owner_config(config, identity), **kwargs)
                finally:
                    _PRIMED.set(None)
                if target is not None:
                    target.prune()
        except database_errors() as exc:  # disk full, a connection lost mid-run
            raise database_failure(identity.thread_id, exc) from exc

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Async twin of `stream`."""
        if _is_subgraph_call(config):
            async for chunk in super().astream(input, config, **kwargs):
                yield chunk
            return
        identity = resolve_identity(kwargs.get("context"), config)
        kwargs = _as_memory_context(kwargs, identity)
        saver, thread_id = self._own_saver(), _root_thread(config)
        lock = athread_lock(saver, thread_id) if saver and thread_id else nullcontext()
        try:
            async with lock:
                primed = await self._apreflight(input, config, identity)
                target = (
                    None
                    if _names_checkpoint(config)
                    else prune_target(self._prunable(), config, self.memory_config.keep_checkpoints)
                )
                run_config = owner_config(config, identity)
                _PRIMED.set(primed)
                deferred = target.adeferred_sync() if target is not None else nullcontext()
                try:
                    async with deferred:
                        with shared_fact_reads():
                            async for chunk in super().astream(input, run_config, **kwargs):
                                yield chunk
                finally:
                    _PRIMED.set(None)
                if target is not None:
                    await target.aprune()
        except database_errors() as exc:
            raise database_failure(identity.thread_id, exc) from exc


def check_input(
    input: Any, identity: Identity, saved: Mapping[str, Any], config: MemoryConfig
) -> None:
    """Refuse a run's input that cannot run, before LangGraph saves it.

    The same check as `memorygraph.graph._guard.validate_run_input`, which
    `MemoryGraph` and the graphs `add_memory` prepares call before their first
    write.

    Args:
        input: The run's input: a state update, a ``Command``, or None.
        identity: Who is calling.
        saved: The thread's saved values (`memorygraph.graph._guard.load_thread`).
        config: The budgets the graph packs with.
    """
    validate_run_input(input, identity, saved, config)


def _as_memory_context(kwargs: dict[str, Any], identity: Identity) -> dict[str, Any]:
    """Replace a mapping context with the identity resolved from it (or from the server's user).

    The API server passes the run's context as a dict, which LangGraph would
    turn into a `MemoryContext` itself; with an authenticated caller that dict
    may name no one (who is calling comes from the API key).
    """
    if not isinstance(kwargs.get("context"), Mapping):
        return kwargs
    resolved = MemoryContext(identity.tenant_id, identity.user_id, identity.scopes)
    return {**kwargs, "context": resolved}


def _is_subgraph_call(config: RunnableConfig | None) -> bool:
    # The memory graph as a node of a parent graph: the parent's run has saved
    # its input, holds the thread, and passes its context down through the
    # config (not as ``context=``); the nodes check identity and messages.
    return bool(((config or {}).get("configurable") or {}).get("checkpoint_ns"))


def _root_thread(config: RunnableConfig | None) -> str | None:
    # A subgraph call (a checkpoint namespace) or a saver lent through the config
    # (the API server) belongs to a run that is already someone else's to guard.
    configurable = (config or {}).get("configurable") or {}
    if configurable.get("checkpoint_ns") or CONFIG_KEY_CHECKPOINTER in configurable:
        return None
    thread_id = configurable.get("thread_id")
    return str(thread_id) if thread_id is not None else None


def _names_checkpoint(config: RunnableConfig | None) -> bool:
    # A fork or replay starts from an older checkpoint: pruning after it would
    # delete that checkpoint and every branch beside the new one.
    configurable = (config or {}).get("configurable") or {}
    return bool(configurable.get("checkpoint_id"))


# --- one read of the thread per turn ----------------------------------------------


@dataclass(frozen=True)
class _Primed:
    """The checkpoint a run's preflight read, while the run holds its thread's lock."""

    saver: BaseCheckpointSaver[Any]
    key: tuple[str, str]
    saved: CheckpointTuple | None


_PRIMED: ContextVar[_Primed | None] = ContextVar("memorygraph_primed", default=None)


def _read_key(config: RunnableConfig | None) -> tuple[str, str] | None:
    """The thread and namespace a read of the latest checkpoint names; None for a named one."""
    configurable = (config or {}).get("configurable") or {}
    if configurable.get("checkpoint_id") or configurable.get("thread_id") is None:
        return None
    return (str(configurable["thread_id"]), str(configurable.get("checkpoint_ns") or ""))


def _take_primed(saver: BaseCheckpointSaver[Any], config: RunnableConfig) -> _Primed | None:
    primed = _PRIMED.get()
    if primed is None or primed.saver is not saver or primed.key != _read_key(config):
        return None
    _PRIMED.set(None)  # once: any later read goes to the database
    return primed


def _serve_primed(saver: BaseCheckpointSaver[Any]) -> None:
    """Let the run's first read of its thread return what its preflight has just read.

    A guarded run reads the thread's latest checkpoint in its preflight (to
    check the input and the owner), then LangGraph reads it again as the run
    starts. The run holds the thread's lock from before the first read to the
    end (`memorygraph.graph._lock`), so nothing can write in between: the
    second read is answered with the first one's tuple, once, and every other
    read (a named checkpoint, another thread, ``get_state``) goes to the saver.
    """
    read, aread = saver.get_tuple, saver.aget_tuple
    if getattr(read, "serves_primed", False):
        # A copy of a saver served before (its copy took the wrapper along):
        # read through this saver's own methods, not the original's.
        read = functools.partial(type(saver).get_tuple, saver)
        aread = functools.partial(type(saver).aget_tuple, saver)

    def get_tuple(config: RunnableConfig) -> CheckpointTuple | None:
        primed = _take_primed(saver, config)
        return primed.saved if primed is not None else read(config)

    async def aget_tuple(config: RunnableConfig) -> CheckpointTuple | None:
        primed = _take_primed(saver, config)
        return primed.saved if primed is not None else await aread(config)

    get_tuple.serves_primed = True  # type: ignore[attr-defined]
    saver.get_tuple = get_tuple  # type: ignore[method-assign]
    saver.aget_tuple = aget_tuple  # type: ignore[method-assign]


GraphT = TypeVar("GraphT", bound="_Guarded")


class _Guarded(Protocol):
    memory_config: MemoryConfig


def adopt(
    compiled: CompiledStateGraph[Any, Any, Any, Any],
    kind: type[GraphT],
    config: MemoryConfig,
) -> GraphT:
    """Give the compiled graph memorygraph's run guard, in place.

    LangGraph's ``StateGraph.compile`` always builds a ``CompiledStateGraph`` and
    offers no way to choose a subclass. ``kind`` is a subclass that adds methods
    only (no state of its own beyond ``memory_config`` and ``typed_saver``), so
    the graph LangGraph built becomes an instance of it as it is: nothing of
    LangGraph's is copied, read or re-created (docs/decisions/2026-12-06-public-apis.md).

    Raises:
        TypeError: ``kind`` does not extend the compiled graph's class.
    """
    if not issubclass(kind, type(compiled)):
        raise TypeError(f"{kind.__name__} does not extend {type(compiled).__name__}")
    compiled.__class__ = kind
    graph = cast(GraphT, compiled)
    graph.memory_config = config
    return graph


def create_memory_graph(
    model: BaseChatModel | None = None,
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    store: BaseStore | None = None,
    config: MemoryConfig | None = None,
    extractor: FactExtractor | None = None,
) -> MemoryGraph:
    """Create the compiled memory graph.

    Args:
        model: The chat model, or None to remember and pack only.
        checkpointer: Where threads persist (see `memorygraph.checkpointers.open_checkpointer`).
            memorygraph's record types are registered with its serializer.
        store: Long-term memory, the archive of folded turns, and the audit log
            (see ``open_store``). Required with a checkpointer: without it no turn
            could be folded away and a thread would grow without limit.
        config: Budgets, shares and texts.
        extractor: Reads facts from new turns (the rule-based extractor by default).

    Returns:
        The compiled graph. Run a turn with
        ``graph.invoke({"messages": [...]}, {"configurable": {"thread_id": ...}},
        context=MemoryContext(tenant_id=..., user_id=...))``.

    Raises:
        ConfigError: A checkpointer without a store (`memorygraph.graph._bound`).
    """
    require_store(checkpointer, store, where="create_memory_graph")
    memory_config = config or MemoryConfig()
    compiled = build_memory_graph(model, config=memory_config, extractor=extractor).compile(
        checkpointer=register_types(checkpointer) if checkpointer is not None else None,
        store=store,
        name="memorygraph",
    )
    graph = adopt(compiled, MemoryGraph, memory_config)
    saver = graph.checkpointer
    graph.typed_saver = saver if isinstance(saver, BaseCheckpointSaver) else None
    if graph.typed_saver is not None:
        _serve_primed(graph.typed_saver)  # a copy of the caller's saver, this graph's own
    return graph
