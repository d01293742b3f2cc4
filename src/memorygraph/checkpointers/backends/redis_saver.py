"""`RedisSaver`: a LangGraph checkpointer on plain Redis 7 (no modules).

Key layout, under a prefix (``memorygraph`` by default); ``{T}`` is the
quoted thread id, ``{N}`` the quoted checkpoint namespace, ``{C}`` the
quoted checkpoint id:

* ``P:threads`` - set of the thread ids that hold checkpoints;
* ``P:t:{T}:ns`` - set of the thread's namespaces;
* ``P:t:{T}:keys`` - set of every other key of the thread, so deleting a
  thread needs no ``SCAN``;
* ``P:t:{T}:{N}:ids`` - sorted set of checkpoint ids, all scored 0, so Redis
  orders them by id (LangGraph's ids sort by time);
* ``P:t:{T}:{N}:c:{C}`` - hash: the checkpoint without its channel values,
  its metadata (both through the saver's serde) and its parent id;
* ``P:t:{T}:{N}:b`` - hash of channel values, one field per (channel,
  version): a value unchanged between checkpoints is stored once;
* ``P:t:{T}:{N}:w:{C}`` - hash of the pending writes of one checkpoint.

Every write is one ``MULTI``/``EXEC``; pruning and deleting a thread are
optimistic transactions (``WATCH``), retried when a run writes meanwhile.
"""

from __future__ import annotations

import asyncio
import builtins
import random
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from memorygraph.checkpointers.backends.redis_client import (
    DEFAULT_PREFIX,
    Batch,
    Plan,
    arun_plan,
    chunks,
    pack,
    run_plan,
    unpack,
)
from memorygraph.checkpointers.backends.redis_keys import SaverKeys, blob_field, text, thread_config
from memorygraph.checkpointers.backends.redis_maintenance import (
    copy_plan,
    delete_runs_plan,
    prune_plan,
)

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["RedisSaver"]

_PAGE = 50
_LATEST_TRIES = 5


class RedisSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer on plain Redis commands: strings, hashes, sets.

    Open it with ``open_checkpointer("redis://host:6379/0")`` (or
    ``aopen_checkpointer``), which also sets memorygraph's serializer. Sync
    methods use ``conn``; async ones use ``aconn`` when given, and otherwise
    run the sync ones in a worker thread.

    Args:
        conn: A sync redis-py client (``decode_responses`` off).
        aconn: An async redis-py client on the same server, for ``ainvoke``.
        prefix: The first part of every key; savers with different prefixes
            share a database without seeing each other.
        serde: The serializer for checkpoints and writes.

    Example:
        >>> from memorygraph.checkpointers import open_checkpointer
        >>> with open_checkpointer("redis://127.0.0.1:6379/15?prefix=doctest") as saver:
        ...     type(saver).__name__
        'RedisSaver'
    """

    def __init__(
        self,
        conn: redis.Redis,
        *,
        aconn: redis.asyncio.Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.conn = conn
        self.aconn = aconn
        self.prefix = prefix
        self.keys = SaverKeys(prefix)

    # --- plans ---------------------------------------------------------------------------

    def _put_plan(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Plan[RunnableConfig]:
        keys = self.keys
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        ns = str(configurable.get("checkpoint_ns", ""))
        saved = checkpoint.copy()
        values: dict[str, Any] = saved.pop("channel_values", {})  # type: ignore[misc]
        checkpoint_id = checkpoint["id"]
        ctype, cdata = self.serde.dumps_typed(saved)
        mtype, mdata = self.serde.dumps_typed(get_checkpoint_metadata(config, metadata))
        ckey, bkey = keys.checkpoint(thread_id, ns, checkpoint_id), keys.blobs(thread_id, ns)
        commands: list[tuple[Any, ...]] = [
            ("SADD", keys.threads, thread_id),
            ("SADD", keys.namespaces(thread_id), ns),
            ("ZADD", keys.ids(thread_id, ns), 0, checkpoint_id),
            ("DEL", ckey),
            (
                "HSET",
                ckey,
                "type",
                ctype,
                "checkpoint",
                cdata,
                "mtype",
                mtype,
                "metadata",
                mdata,
                "parent",
                configurable.get("checkpoint_id") or "",
            ),
        ]
        fields: list[bytes] = []
        for channel, version in new_versions.items():
            typed = self.serde.dumps_typed(values[channel]) if channel in values else ("empty", b"")
            fields += [blob_field(channel, version), pack(*typed)]
        if fields:
            commands.append(("HSET", bkey, *fields))
        registry = keys.registry(thread_id)
        commands.append(
            ("SADD", registry, keys.namespaces(thread_id), keys.ids(thread_id, ns), ckey, bkey)
        )
        yield Batch(commands, atomic=True)
        return thread_config(thread_id, ns, checkpoint_id)

    def _put_writes_plan(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> Plan[None]:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        ns = str(configurable.get("checkpoint_ns", ""))
        wkey = self.keys.writes(thread_id, ns, str(configurable["checkpoint_id"]))
        commands: list[tuple[Any, ...]] = []
        for idx, (channel, value) in enumerate(writes):
            slot = WRITES_IDX_MAP.get(channel, idx)
            field = pack(task_id, str(slot))
            data = pack(channel, task_path, *self.serde.dumps_typed(value))
            # a special write (error, interrupt, ...) replaces; a regular one is kept
            commands.append(("HSETNX" if slot >= 0 else "HSET", wkey, field, data))
        if commands:
            commands.append(("SADD", self.keys.registry(thread_id), wkey))
            yield Batch(commands, atomic=True)

    def _get_plan(self, config: RunnableConfig) -> Plan[CheckpointTuple | None]:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        ns = str(configurable.get("checkpoint_ns", ""))
        wanted = get_checkpoint_id(config)
        for _ in range(_LATEST_TRIES):
            checkpoint_id = wanted
            if not checkpoint_id:
                [latest] = yield Batch([("ZREVRANGE", self.keys.ids(thread_id, ns), 0, 0)])
                if not latest:
                    return None
                checkpoint_id = text(latest[0])
            found = yield from self._load_plan([(thread_id, ns, checkpoint_id)])
            if found:
                return found[0]
            if wanted:
                return None
            # the latest checkpoint was pruned between the two reads: look again
        return None

    def _load_plan(
        self,
        wanted: Sequence[tuple[str, str, str]],
        filter: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> Plan[list[CheckpointTuple]]:
        keys = self.keys
        rows = yield Batch([("HGETALL", keys.checkpoint(*where)) for where in wanted])
        found: list[tuple[tuple[str, str, str], dict[bytes, bytes], Any, dict[str, Any]]] = []
        for where, row in zip(wanted, rows, strict=True):
            if not row:
                continue
            metadata = self.serde.loads_typed((text(row[b"mtype"]), row[b"metadata"]))
            if filter and not all(metadata.get(k) == v for k, v in filter.items()):
                continue
            checkpoint = self.serde.loads_typed((text(row[b"type"]), row[b"checkpoint"]))
            found.append((where, row, metadata, checkpoint))
            if limit is not None and len(found) >= limit:
                break
        if not found:
            return []
        commands: list[tuple[Any, ...]] = []
        for (thread_id, ns, checkpoint_id), _, _, checkpoint in found:
            commands.append(("HGETALL", keys.writes(thread_id, ns, checkpoint_id)))
            versions = checkpoint.get("channel_versions") or {}
            fields = [blob_field(channel, version) for channel, version in versions.items()]
            commands.append(("HMGET", keys.blobs(thread_id, ns), *fields) if fields else ("PING",))
        replies = yield Batch(commands)
        tuples = []
        for index, ((thread_id, ns, checkpoint_id), row, metadata, checkpoint) in enumerate(found):
            writes, blobs = replies[2 * index], replies[2 * index + 1]
            versions = checkpoint.get("channel_versions") or {}
            values: dict[str, Any] = {}
            if isinstance(blobs, list):
                for channel, blob in zip(versions, blobs, strict=True):
                    if blob is None:
                        continue
                    btype, bdata = unpack(blob)
                    if btype != b"empty":
                        values[channel] = self.serde.loads_typed((text(btype), bdata))
            parent = text(row.get(b"parent", b""))
            tuples.append(
                CheckpointTuple(
                    config=thread_config(thread_id, ns, checkpoint_id),
                    checkpoint=cast(Checkpoint, {**checkpoint, "channel_values": values}),
                    metadata=metadata,
                    parent_config=thread_config(thread_id, ns, parent) if parent else None,
                    pending_writes=self._pending_writes(writes),
                )
            )
        return tuples

    def _pending_writes(self, stored: Mapping[bytes, bytes]) -> list[tuple[str, str, Any]]:
        rows = []
        for field, data in stored.items():
            task_id, slot = unpack(field)
            channel, task_path, wtype, wdata = unpack(data)
            rows.append((text(task_path), text(task_id), int(slot), text(channel), wtype, wdata))
        rows.sort(key=lambda row: writes_sort_key(row[0], row[1], row[2]))  # LangGraph's order
        return [
            (task_id, channel, self.serde.loads_typed((text(wtype), wdata)))
            for _, task_id, _, channel, wtype, wdata in rows
        ]

    def _candidates_plan(
        self, config: RunnableConfig | None, before: RunnableConfig | None
    ) -> Plan[list[tuple[str, str, str]]]:
        keys = self.keys
        configurable = (config or {}).get("configurable") or {}
        if config is not None:
            threads = [str(configurable["thread_id"])]
        else:
            [members] = yield Batch([("SMEMBERS", keys.threads)])
            threads = sorted(text(member) for member in members)
        ns_wanted = configurable.get("checkpoint_ns")
        if ns_wanted is not None:
            pairs = [(thread_id, str(ns_wanted)) for thread_id in threads]
        else:
            replies = yield Batch([("SMEMBERS", keys.namespaces(t)) for t in threads])
            pairs = [
                (t, text(ns)) for t, found in zip(threads, replies, strict=True) for ns in found
            ]
        only = get_checkpoint_id(config) if config is not None else None
        before_id = get_checkpoint_id(before) if before is not None else None
        upper = f"({before_id}" if before_id else "+"
        replies = yield Batch([("ZREVRANGEBYLEX", keys.ids(t, ns), upper, "-") for t, ns in pairs])
        found = [
            (thread_id, ns, text(checkpoint_id))
            for (thread_id, ns), ids in zip(pairs, replies, strict=True)
            for checkpoint_id in ids
            if not only or text(checkpoint_id) == only
        ]
        found.sort(key=lambda where: where[2], reverse=True)
        return found

    def _delete_plan(self, thread_id: str) -> Plan[None]:
        keys = self.keys
        registry = keys.registry(thread_id)
        [members] = yield Batch([("SMEMBERS", registry)], watch=(registry,))
        doomed = [text(member) for member in members] + [registry, keys.namespaces(thread_id)]
        commands: list[tuple[Any, ...]] = [("DEL", *part) for part in chunks(doomed)]
        commands.append(("SREM", keys.threads, thread_id))
        yield Batch(commands, atomic=True)

    # --- sync API ------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Load a checkpoint (the latest when the config names none), with its writes."""
        return run_plan(self.conn, lambda: self._get_plan(config), "get_tuple")

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """List checkpoints, newest first, filtered on metadata."""
        candidates = run_plan(self.conn, lambda: self._candidates_plan(config, before), "list")
        left = limit
        for start in range(0, len(candidates), _PAGE):
            if left is not None and left <= 0:
                return
            page = candidates[start : start + _PAGE]
            found = run_plan(self.conn, partial(self._load_plan, page, filter, left))
            if left is not None:
                left -= len(found)
            yield from found

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Save a checkpoint and the channel values that changed, in one transaction."""
        return run_plan(
            self.conn, lambda: self._put_plan(config, checkpoint, metadata, new_versions), "put"
        )

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Save a task's pending writes on a checkpoint, in one transaction."""
        run_plan(self.conn, lambda: self._put_writes_plan(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Delete every key of a thread."""
        run_plan(self.conn, lambda: self._delete_plan(str(thread_id)), "delete_thread")

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Keep the latest checkpoint per namespace (``"keep_latest"``) or delete all.

        A finished subgraph call's namespace goes with the older root
        checkpoint it started from, as `memorygraph.checkpointers.prune_thread`
        describes.

        Raises:
            NotImplementedError: The thread uses a ``DeltaChannel``, or the
                strategy is unknown.
        """
        for thread_id in thread_ids:
            if strategy == "delete":
                self.delete_thread(thread_id)
            elif strategy == "keep_latest":
                run_plan(self.conn, partial(prune_plan, self, str(thread_id)), "prune")
            else:
                raise NotImplementedError(f"RedisSaver has no prune strategy {strategy!r}")

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, channel value and write of a thread to another thread."""
        plan = partial(copy_plan, self, str(source_thread_id), str(target_thread_id))
        run_plan(self.conn, plan, "copy_thread")

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints and writes of the given runs (reads every checkpoint)."""
        run_plan(self.conn, partial(delete_runs_plan, self, list(run_ids)), "delete_for_runs")

    def list_thread_ids(self) -> builtins.list[str]:
        """Return the ids of the threads that hold checkpoints, sorted (one ``SMEMBERS``)."""
        return sorted(text(member) for member in self.conn.smembers(self.keys.threads))

    # --- async API -----------------------------------------------------------------------

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async twin of `copy_thread`."""
        if self.aconn is None:
            await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)
            return
        plan = partial(copy_plan, self, str(source_thread_id), str(target_thread_id))
        await arun_plan(self.aconn, plan, "copy_thread")

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async twin of `delete_for_runs`."""
        if self.aconn is None:
            await asyncio.to_thread(self.delete_for_runs, run_ids)
            return
        await arun_plan(
            self.aconn, partial(delete_runs_plan, self, list(run_ids)), "delete_for_runs"
        )

    async def alist_thread_ids(self) -> builtins.list[str]:
        """Async twin of `list_thread_ids`."""
        if self.aconn is None:
            return await asyncio.to_thread(self.list_thread_ids)
        members = await self.aconn.smembers(self.keys.threads)
        return sorted(text(member) for member in members)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async twin of `get_tuple`."""
        if self.aconn is None:
            return await asyncio.to_thread(self.get_tuple, config)
        return await arun_plan(self.aconn, lambda: self._get_plan(config), "get_tuple")

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async twin of `list`."""
        if self.aconn is None:
            found = await asyncio.to_thread(
                lambda: list(self.list(config, filter=filter, before=before, limit=limit))
            )
            for item in found:
                yield item
            return
        aconn = self.aconn
        candidates = await arun_plan(aconn, lambda: self._candidates_plan(config, before), "list")
        left = limit
        for start in range(0, len(candidates), _PAGE):
            if left is not None and left <= 0:
                return
            page = candidates[start : start + _PAGE]
            found = await arun_plan(aconn, partial(self._load_plan, page, filter, left))
            if left is not None:
                left -= len(found)
            for item in found:
                yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async twin of `put`."""
        if self.aconn is None:
            return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)
        return await arun_plan(
            self.aconn, lambda: self._put_plan(config, checkpoint, metadata, new_versions), "put"
        )

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async twin of `put_writes`."""
        if self.aconn is None:
            await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)
            return
        await arun_plan(
            self.aconn, lambda: self._put_writes_plan(config, writes, task_id, task_path)
        )

    async def adelete_thread(self, thread_id: str) -> None:
        """Async twin of `delete_thread`."""
        if self.aconn is None:
            await asyncio.to_thread(self.delete_thread, thread_id)
            return
        await arun_plan(self.aconn, lambda: self._delete_plan(str(thread_id)), "delete_thread")

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async twin of `prune`."""
        if self.aconn is None:
            await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)
            return
        for thread_id in thread_ids:
            if strategy == "delete":
                await self.adelete_thread(thread_id)
            elif strategy == "keep_latest":
                await arun_plan(self.aconn, partial(prune_plan, self, str(thread_id)), "prune")
            else:
                raise NotImplementedError(f"RedisSaver has no prune strategy {strategy!r}")

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Return the next channel version: a zero-padded counter and a random tail."""
        if current is None:
            number = 0
        elif isinstance(current, int):
            number = current
        else:
            number = int(current.split(".")[0])
        return f"{number + 1:032}.{random.random():016}"
