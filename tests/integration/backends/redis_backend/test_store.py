"""RedisStore: the BaseStore contract memorygraph and LangGraph users rely on."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
from langgraph.store.base import GetOp, ListNamespacesOp, PutOp, SearchOp

from memorygraph.checkpointers import aopen_store, open_store
from memorygraph.checkpointers.backends.redis_store import RedisStore

pytestmark = pytest.mark.redis


def _keys(url: str) -> list[bytes]:
    prefix = url.split("prefix=")[1]
    with redis.Redis.from_url(url.partition("?")[0]) as client:
        return sorted(client.scan_iter(match=f"{prefix}:*"))


def test_put_get_update_delete(redis_url: str) -> None:
    with open_store(redis_url) as store:
        assert isinstance(store, RedisStore)
        store.put(("a", "b"), "k", {"text": "één", "n": 1})
        first = store.get(("a", "b"), "k")
        assert first is not None and first.value == {"text": "één", "n": 1}
        assert first.namespace == ("a", "b") and first.key == "k"
        time.sleep(0.01)
        store.put(("a", "b"), "k", {"text": "two"})
        second = store.get(("a", "b"), "k")
        assert second is not None and second.value == {"text": "two"}
        assert second.created_at == first.created_at < second.updated_at
        assert store.get(("a", "b"), "missing") is None
        store.delete(("a", "b"), "k")
        assert store.get(("a", "b"), "k") is None
    assert _keys(redis_url) == []  # nothing left behind, indexes included


def test_search_by_prefix_filters_and_pages(redis_url: str) -> None:
    with open_store(redis_url) as store:
        for n in range(12):
            ns = ("memorygraph", "acme", "ana" if n % 2 else "bob", "facts")
            store.put(ns, f"f{n:02}", {"n": n, "kind": "even" if n % 2 == 0 else "odd"})
            time.sleep(0.002)
        store.put(("memorygraph", "acmeX"), "x", {"n": 99})  # not under ("memorygraph", "acme")
        under = store.search(("memorygraph", "acme"), limit=100)
        assert [item.key for item in under] == [f"f{n:02}" for n in reversed(range(12))]
        odd = store.search(("memorygraph", "acme"), filter={"kind": "odd"}, limit=100)
        assert {item.key for item in odd} == {f"f{n:02}" for n in range(1, 12, 2)}
        big = store.search(("memorygraph",), filter={"n": {"$gte": 8, "$lt": 99}}, limit=100)
        assert sorted(item.value["n"] for item in big) == [8, 9, 10, 11]
        assert [
            i.value["n"] for i in store.search(("memorygraph",), filter={"n": {"$ne": 99}}, limit=3)
        ] == [11, 10, 9]
        page = store.search(("memorygraph", "acme"), limit=3, offset=3)
        assert [item.key for item in page] == ["f08", "f07", "f06"]
        assert store.search(("memorygraph", "acme", "ana", "facts"), filter={"kind": "even"}) == []
        assert store.search(("nothing",)) == []


def test_list_namespaces(redis_url: str) -> None:
    with open_store(redis_url) as store:
        for ns in [("a", "b", "c"), ("a", "b", "d"), ("a", "e"), ("f",)]:
            store.put(ns, "k", {"v": 1})
        assert store.list_namespaces() == [("a", "b", "c"), ("a", "b", "d"), ("a", "e"), ("f",)]
        assert store.list_namespaces(prefix=("a", "b")) == [("a", "b", "c"), ("a", "b", "d")]
        assert store.list_namespaces(suffix=("d",)) == [("a", "b", "d")]
        assert store.list_namespaces(prefix=("a", "*", "c")) == [("a", "b", "c")]
        assert store.list_namespaces(max_depth=2) == [("a", "b"), ("a", "e"), ("f",)]
        assert store.list_namespaces(limit=2, offset=1) == [("a", "b", "d"), ("a", "e")]
        store.delete(("a", "e"), "k")
        assert ("a", "e") not in store.list_namespaces()


def test_ttl_expires_items_and_their_index_entries(redis_url: str) -> None:
    with open_store(redis_url) as store:
        store.put(("t",), "short", {"v": 1}, ttl=2 / 60)  # two seconds
        store.put(("t",), "kept", {"v": 2})
        assert {item.key for item in store.search(("t",), refresh_ttl=False)} == {"short", "kept"}
        time.sleep(1.2)
        assert store.get(("t",), "short") is not None  # a read refreshes the TTL...
        time.sleep(1.2)
        assert store.get(("t",), "short", refresh_ttl=False) is not None  # ...so it lives on
        time.sleep(2.2)
        assert store.get(("t",), "short") is None
        assert [item.key for item in store.search(("t",))] == ["kept"]
        store.put(("gone",), "x", {"v": 3}, ttl=0.2 / 60)
        time.sleep(0.5)
        assert ("gone",) not in store.list_namespaces()
        store.delete(("t",), "kept")
    assert _keys(redis_url) == []  # expired items leave no index entry behind


def test_a_default_ttl_from_the_store_config(redis_url: str) -> None:
    with open_store(redis_url) as opened:
        assert isinstance(opened, RedisStore)
        store = RedisStore(opened.conn, prefix=opened.prefix, ttl={"default_ttl": 1.0})
        store.put(("d",), "k", {"v": 1})
        ttl_ms = opened.conn.pttl(store._item("d", "k"))
        assert 0 < ttl_ms <= 60_000


def test_batch_reads_see_the_store_before_its_puts(redis_url: str) -> None:
    with open_store(redis_url) as store:
        store.put(("b",), "k", {"v": "old"})
        results = store.batch(
            [
                GetOp(("b",), "k"),
                PutOp(("b",), "k", {"v": "first"}),
                PutOp(("b",), "k", {"v": "new"}),  # the last put of a key wins
                SearchOp(("b",)),
                ListNamespacesOp(),
                PutOp(("c",), "k", {"v": 1}),
            ]
        )
        assert results[0].value == {"v": "old"}  # type: ignore[union-attr]
        assert results[1] is None and results[2] is None
        assert [item.value for item in results[3]] == [{"v": "old"}]  # type: ignore[union-attr]
        assert results[4] == [("b",)]
        assert store.get(("b",), "k").value == {"v": "new"}  # type: ignore[union-attr]
        assert store.list_namespaces() == [("b",), ("c",)]
        with pytest.raises(ValueError, match="periods"):
            store.batch([PutOp(("a.b",), "k", {"v": 1})])


async def test_async_twins(redis_url: str) -> None:
    async with aopen_store(redis_url) as store:
        assert isinstance(store, RedisStore) and store.aconn is not None
        await asyncio.gather(*(store.aput(("as",), f"k{n}", {"n": n}) for n in range(20)))
        found = await store.asearch(("as",), filter={"n": {"$lt": 5}}, limit=50)
        assert sorted(item.value["n"] for item in found) == [0, 1, 2, 3, 4]
        assert await store.alist_namespaces() == [("as",)]
        results = await store.abatch([GetOp(("as",), "k3"), PutOp(("as",), "k3", None)])
        assert results[0].value == {"n": 3}  # type: ignore[union-attr]
        assert await store.aget(("as",), "k3") is None
        await store.aput(("as",), "short", {"v": 1}, ttl=0.2 / 60)
        await asyncio.sleep(0.5)
        assert await store.aget(("as",), "short") is None
