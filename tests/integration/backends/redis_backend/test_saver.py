"""RedisSaver's keys: what pruning keeps, what deleting a thread leaves (nothing)."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
import redis
from langchain_core.messages import HumanMessage

from memorygraph import MemoryContext
from memorygraph.checkpointers import aopen_checkpointer, list_threads
from memorygraph.checkpointers.backends.redis_client import unpack
from memorygraph.checkpointers.backends.redis_saver import RedisSaver
from tests.workers import SMALL, echo_model, open_memory_graph

pytestmark = pytest.mark.redis


def _thread_keys(client: redis.Redis, saver: RedisSaver, thread: str) -> list[str]:
    return sorted(k.decode() for k in client.scan_iter(match=f"{saver.keys.thread(thread)}:*"))


def test_pruning_keeps_one_checkpoint_and_only_its_channel_values(redis_url: str) -> None:
    context = MemoryContext(tenant_id="acme", user_id="ana")
    with ExitStack() as stack:
        graph = open_memory_graph(stack, redis_url, echo_model(), **SMALL)
        saver = graph.checkpointer
        assert isinstance(saver, RedisSaver)
        client = saver.conn
        sizes = []
        for turn in range(12):
            cfg = {"configurable": {"thread_id": "t1"}}
            graph.invoke({"messages": [HumanMessage(f"turn {turn}")]}, cfg, context=context)
            keys = _thread_keys(client, saver, "t1")
            sizes.append(len(keys))
            head = saver.get_tuple(cfg)
            assert head is not None and head.parent_config is None
            assert client.zcard(saver.keys.ids("t1", "")) == 1
            fields = {tuple(unpack(f)) for f in client.hkeys(saver.keys.blobs("t1", ""))}
            versions = head.checkpoint["channel_versions"]
            assert fields == {(c.encode(), str(v).encode()) for c, v in versions.items()}
            registry = {m.decode() for m in client.smembers(saver.keys.registry("t1"))}
            assert registry | {saver.keys.registry("t1")} == set(keys)  # nothing unlisted
        assert max(sizes[2:]) <= 6, sizes  # ns, keys, ids, one checkpoint, blobs, writes
        assert list_threads(saver) == ["t1"]


def test_deleting_a_thread_leaves_no_key_of_it(redis_url: str) -> None:
    context = MemoryContext(tenant_id="acme", user_id="ana")
    with ExitStack() as stack:
        graph = open_memory_graph(stack, redis_url, echo_model(), keep_checkpoints="all", **SMALL)
        saver = graph.checkpointer
        assert isinstance(saver, RedisSaver)
        for thread in ("gone", "kept"):
            for turn in range(4):
                cfg = {"configurable": {"thread_id": thread}}
                graph.invoke({"messages": [HumanMessage(f"{turn}")]}, cfg, context=context)
        assert len(_thread_keys(saver.conn, saver, "gone")) > 10  # the whole history
        saver.delete_thread("gone")
        assert _thread_keys(saver.conn, saver, "gone") == []
        assert list_threads(saver) == ["kept"]
        assert saver.get_tuple({"configurable": {"thread_id": "kept"}}) is not None


async def test_an_async_saver_also_answers_sync_calls(redis_url: str) -> None:
    async with aopen_checkpointer(redis_url) as saver:
        assert isinstance(saver, RedisSaver) and saver.aconn is not None
        from langgraph.graph import MessagesState, StateGraph

        builder = StateGraph(MessagesState)
        builder.add_node("reply", lambda state: {"messages": [("ai", "ok")]})
        builder.set_entry_point("reply")
        graph = builder.compile(checkpointer=saver)
        cfg = {"configurable": {"thread_id": "t"}}
        await graph.ainvoke({"messages": [("user", "hi")]}, cfg)  # type: ignore[arg-type]
        assert len(graph.get_state(cfg).values["messages"]) == 2  # type: ignore[arg-type]
        assert len([s async for s in graph.aget_state_history(cfg)]) == 3  # type: ignore[arg-type]
