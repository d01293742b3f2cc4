"""The in-memory backend: LangGraph's `InMemorySaver` and `InMemoryStore`.

Pruning edits the saver's dictionaries with the plan of `keep_latest`; listing
reads its storage. Nothing is shared between processes, so there is no lock
across processes and nothing to vacuum.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import AsyncExitStack, ExitStack
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore, IndexConfig
from langgraph.store.memory import InMemoryStore

from memorygraph.checkpointers._serde import memorygraph_serializer
from memorygraph.checkpointers.backends.base import AnySaver, delta_refusal
from memorygraph.checkpointers.backends.keep_latest import Head, finished_calls, is_delta, root_of

__all__ = ["ADAPTER", "prune_memory"]


def prune_memory(saver: InMemorySaver, thread_id: str) -> None:
    """Keep the latest checkpoint of each namespace of the thread, in the saver's dicts."""
    # `get_tuple` on an unknown thread creates an empty entry: don't add one.
    namespaces = saver.storage.get(thread_id)
    if not namespaces:
        return
    heads: list[Head] = []
    for ns, checkpoints in namespaces.items():
        loaded = {cid: saver.serde.loads_typed(saved[1]) for cid, saved in checkpoints.items()}
        if any(is_delta(metadata) for metadata in loaded.values()):
            raise delta_refusal(thread_id)
        if checkpoints:
            latest = max(checkpoints)  # what `InMemorySaver.get_tuple` loads
            heads.append(Head(ns, latest, root_of(loaded[latest])))
    calls = finished_calls(heads, set(namespaces.get("", {})))
    for ns in [ns for ns in namespaces if not namespaces[ns]]:
        del namespaces[ns]
    for head in heads:
        _prune_namespace(saver, thread_id, head, keep=head.namespace not in calls)


def _prune_namespace(saver: InMemorySaver, thread_id: str, head: Head, *, keep: bool) -> None:
    ns = head.namespace
    checkpoints = saver.storage[thread_id][ns]
    freed: set[tuple[str, Any]] = set()
    for checkpoint_id in [cid for cid in checkpoints if not keep or cid != head.checkpoint_id]:
        checkpoint, _, _ = checkpoints.pop(checkpoint_id)
        freed |= _versions(saver, checkpoint)
        saver.writes.pop((thread_id, ns, checkpoint_id), None)
    if keep:
        checkpoint, metadata, _ = checkpoints[head.checkpoint_id]
        checkpoints[head.checkpoint_id] = (checkpoint, metadata, None)
        freed -= _versions(saver, checkpoint)
    else:
        del saver.storage[thread_id][ns]
    # Blobs are shared by the checkpoints that did not change a channel.
    for channel, version in freed:
        saver.blobs.pop((thread_id, ns, channel, version), None)


def _versions(saver: InMemorySaver, checkpoint: tuple[str, bytes]) -> set[tuple[str, Any]]:
    versions: Mapping[str, Any] = saver.serde.loads_typed(checkpoint)["channel_versions"]
    return set(versions.items())


class _Memory(AnySaver):
    name = "memory"

    def handles(self, obj: object) -> bool:
        return isinstance(obj, InMemorySaver | InMemoryStore)

    def open_saver(self, location: str, stack: ExitStack) -> BaseCheckpointSaver[str]:
        return InMemorySaver(serde=memorygraph_serializer())

    async def aopen_saver(self, location: str, stack: AsyncExitStack) -> BaseCheckpointSaver[str]:
        return InMemorySaver(serde=memorygraph_serializer())

    def open_store(self, location: str, stack: ExitStack, index: IndexConfig | None) -> BaseStore:
        return InMemoryStore(index=index)

    async def aopen_store(
        self, location: str, stack: AsyncExitStack, index: IndexConfig | None
    ) -> BaseStore:
        return InMemoryStore(index=index)

    def check_can_prune(self, saver: BaseCheckpointSaver[Any]) -> None:
        pass

    def prune(self, saver: BaseCheckpointSaver[Any], thread_id: str) -> None:
        assert isinstance(saver, InMemorySaver)
        prune_memory(saver, thread_id)

    async def aprune(self, saver: BaseCheckpointSaver[Any], thread_id: str) -> None:
        assert isinstance(saver, InMemorySaver)
        prune_memory(saver, thread_id)

    def list_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        assert isinstance(saver, InMemorySaver)
        # `get_tuple` on an unknown thread leaves an empty entry behind, so
        # only threads that still hold a checkpoint count.
        return sorted(
            str(thread_id)
            for thread_id, namespaces in saver.storage.items()
            if any(namespaces.values())
        )

    async def alist_threads(self, saver: BaseCheckpointSaver[Any]) -> list[str]:
        return await asyncio.to_thread(self.list_threads, saver)


ADAPTER = _Memory()
"""The in-memory backend's adapter."""
