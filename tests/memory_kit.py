"""Helpers for the facts and approvals tests: graphs on every backend, fresh identities."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from contextlib import ExitStack
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.store.base import Op, PutOp, Result
from langgraph.store.memory import InMemoryStore

from memorygraph import ContextPackage, MemoryContext, create_memory_graph
from memorygraph.checkpointers import open_checkpointer, open_store
from memorygraph.graph import MemoryGraph


def who(user: str = "ana", tenant: str | None = None) -> MemoryContext:
    """A fresh tenant per call: tests share one PostgreSQL database."""
    return MemoryContext(tenant_id=tenant or f"acme{uuid.uuid4().hex[:12]}", user_id=user)


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4()}"}}


def open_graph(stack: ExitStack, url: str, model: Any = None, **kwargs: Any) -> MemoryGraph:
    checkpointer = stack.enter_context(open_checkpointer(url))
    store = kwargs.pop("store", None) or stack.enter_context(open_store(url))
    return create_memory_graph(model, checkpointer=checkpointer, store=store, **kwargs)


def say(
    graph: MemoryGraph, cfg: dict[str, Any], context: MemoryContext, *turns: BaseMessage | str
) -> dict[str, Any]:
    messages = [HumanMessage(t) if isinstance(t, str) else t for t in turns]
    result: dict[str, Any] = graph.invoke({"messages": messages}, cfg, context=context)
    return result


def fact_lines(package: ContextPackage) -> list[str]:
    return [item.content for item in package.items if item.kind == "fact"]


def rendered(package: ContextPackage) -> str:
    return "\n".join(m.text for m in package.to_messages())


class CountingStore(InMemoryStore):
    """An InMemoryStore that counts the puts it receives, by key."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.puts: list[tuple[tuple[str, ...], str]] = []

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        self.puts += [(op.namespace, op.key) for op in ops if isinstance(op, PutOp)]
        return super().batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        self.puts += [(op.namespace, op.key) for op in ops if isinstance(op, PutOp)]
        return await super().abatch(ops)
