"""`pack_context`: the node that builds the one deterministic, budgeted package for a model call.

The core is three pure steps in `memorygraph.packing`, each testable on its own:

1. `collect_items` (`packing.candidates`) turns the state into candidate `ContextItem`s.
2. `filter_items` (`packing.package`) drops what the caller may not see, before any packing.
3. `pack_items` (`packing.budget`) fits the rest into the budget, and fails closed.

`build_package` (`packing.package`) runs the three and returns a `ContextPackage`;
this node around it only resolves who is calling, recalls from the archive, writes
the audit record and writes ``context_package``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from langchain_core.messages import (
    BaseMessage,
)
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore

from memorygraph.config import MemoryConfig
from memorygraph.context import Identity, MemoryContext, resolve_identity
from memorygraph.nodes.steps import MemoryStep
from memorygraph.packing.package import build_package
from memorygraph.records import (
    ContextPackage,
    SessionSummary,
)
from memorygraph.retrieval import Retriever, arecall_items, default_retriever, recall_items
from memorygraph.store.audit import arecord_package_inputs, record_package_inputs
from memorygraph.store.facts import asearch_facts, search_facts
from memorygraph.store.threads import aregister_thread, register_thread
from memorygraph.tokens import TokenCounter, counter_for
from memorygraph.turns import message_text, message_window

__all__ = ["make_pack_context", "pack_context"]


def make_pack_context(
    config: MemoryConfig | None = None,
    *,
    counter: TokenCounter | None = None,
    clock: Callable[[], datetime] | None = None,
    retriever: Retriever | None = None,
) -> MemoryStep:
    """Make a ``pack_context`` node (sync and async) with its own configuration.

    Args:
        config: Budgets and texts (defaults to ``MemoryConfig()``).
        counter: Token counter to share with other nodes.
        clock: Returns "now"; tests pass a fixed clock.
        retriever: Recalls archived turns for the request; by default the one
            ``config.recall`` names (`memorygraph.retrieval.default_retriever`).

    Returns:
        A node ``(state, config, runtime) -> {"context_package": package}``.
        When the graph has a store, the user's durable facts relevant to the
        request are packed too, and so are the thread's turns that the request
        recalls: archived ones, and those of the window that the recent-turn
        share cannot show. Under ``ainvoke``/``astream`` it reads the store with
        its async methods.

    Example:
        >>> from langgraph.graph import START, StateGraph
        >>> from memorygraph import MemoryContext, MemoryState
        >>> builder = StateGraph(MemoryState, context_schema=MemoryContext)
        >>> _ = builder.add_node("pack_context", make_pack_context(MemoryConfig(token_budget=900)))
        >>> _ = builder.add_edge(START, "pack_context")
        >>> out = builder.compile().invoke(
        ...     {"messages": [("user", "Hello!")]},
        ...     {"configurable": {"thread_id": "t1"}},
        ...     context=MemoryContext(tenant_id="acme", user_id="ana"),
        ... )
        >>> out["context_package"].to_messages()[-1].content
        'Hello!'
    """
    memory_config = config or MemoryConfig()
    tokens = counter or counter_for(memory_config)

    def begin(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> tuple[Identity, datetime, _Plan]:
        identity = resolve_identity(runtime.context, config)
        now = clock() if clock else datetime.now(UTC)
        return identity, now, _Plan.of(state, identity, runtime.store, memory_config, retriever)

    def pack(
        state: Mapping[str, Any], identity: Identity, now: datetime, inputs: _Inputs
    ) -> ContextPackage:
        return build_package(
            state, identity=identity, config=memory_config, counter=tokens, now=now, **inputs
        )

    def pack_context(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        identity, now, plan = begin(state, config, runtime)
        inputs: _Inputs = {"extra_items": [], "durable_facts": []}
        if runtime.store is not None and plan.facts_query is not None:
            inputs["durable_facts"] = search_facts(
                runtime.store, *plan.owner, plan.facts_query, **plan.facts_options(now)
            )
        if runtime.store is not None and plan.recall is not None:
            inputs["extra_items"] = recall_items(
                runtime.store, **plan.recall._asdict(), counter=tokens
            )
        package = pack(state, identity, now, inputs)
        if runtime.store is not None:
            _record(runtime.store, package, state, identity, memory_config, now, inputs)
        return {"context_package": package}

    async def apack_context(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        identity, now, plan = begin(state, config, runtime)
        inputs: _Inputs = {"extra_items": [], "durable_facts": []}
        if runtime.store is not None and plan.facts_query is not None:
            inputs["durable_facts"] = await asearch_facts(
                runtime.store, *plan.owner, plan.facts_query, **plan.facts_options(now)
            )
        if runtime.store is not None and plan.recall is not None:
            inputs["extra_items"] = await arecall_items(
                runtime.store, **plan.recall._asdict(), counter=tokens
            )
        package = pack(state, identity, now, inputs)
        if runtime.store is not None:
            await _arecord(runtime.store, package, state, identity, memory_config, now, inputs)
        return {"context_package": package}

    return MemoryStep("pack_context", pack_context, apack_context)


# Every input besides the state goes through this one dict, so the restricted
# audit record replays exactly what was packed.
_Inputs = dict[str, Sequence[Any]]


@dataclass(frozen=True)
class _Plan:
    """What one package reads from the store, decided before reading it."""

    owner: tuple[str, str]
    facts_query: str | None  # None: no durable facts to read
    limit: int
    scan: int
    recall: _RecallRequest | None  # None: nothing to recall

    @classmethod
    def of(
        cls,
        state: Mapping[str, Any],
        identity: Identity,
        store: BaseStore | None,
        config: MemoryConfig,
        retriever: Retriever | None,
    ) -> _Plan:
        window = message_window(state.get("messages") or ())
        history, request = window.history, window.request
        query = message_text(request) if request is not None else ""
        summary = state.get("summary")
        recall = None
        if store is not None and request is not None and isinstance(summary, SessionSummary):
            engine = retriever or default_retriever(store, config.recall)
            if engine is not None and summary.covered_turns:
                recall = _RecallRequest(
                    (identity.tenant_id, identity.user_id, identity.thread_id),
                    query,
                    summary.covered_turns,
                    summary.last_updated_turn_id,
                    engine,
                    config,
                    history,
                    summary.archive_digest,
                )
        return cls(
            owner=(identity.tenant_id, identity.user_id),
            facts_query=query if store is not None and config.durable_facts_limit else None,
            limit=config.durable_facts_limit,
            scan=config.durable_scan_limit,
            recall=recall,
        )

    def facts_options(self, now: datetime) -> dict[str, Any]:
        """`search_facts`' keyword arguments."""
        return {"limit": self.limit, "scan": self.scan, "now": now}


class _RecallRequest(NamedTuple):
    """`recall_items`' arguments after the store, but the counter."""

    thread: tuple[str, str, str]
    query: str
    archived: int
    last_id: str | None
    retriever: Retriever
    config: MemoryConfig
    pending: Sequence[BaseMessage]  # the window before the request: ranked with the archive
    digest: str | None


def _record(
    store: BaseStore,
    package: ContextPackage,
    state: Mapping[str, Any],
    identity: Identity,
    config: MemoryConfig,
    now: datetime,
    inputs: Mapping[str, Sequence[Any]],
) -> None:
    if state.get("context_package") is None:
        # The thread's first package: record who owns it, for forget_user/forget_tenant.
        register_thread(store, identity)
    if config.audit_full_content:
        record_package_inputs(
            store, package, state=state, identity=identity, config=config, now=now, **inputs
        )


async def _arecord(
    store: BaseStore,
    package: ContextPackage,
    state: Mapping[str, Any],
    identity: Identity,
    config: MemoryConfig,
    now: datetime,
    inputs: Mapping[str, Sequence[Any]],
) -> None:
    if state.get("context_package") is None:
        await aregister_thread(store, identity)
    if config.audit_full_content:
        await arecord_package_inputs(
            store, package, state=state, identity=identity, config=config, now=now, **inputs
        )


pack_context = make_pack_context()
"""The ``pack_context`` node with the default `MemoryConfig`."""
