"""`RedisSaver`'s plans that rewrite a thread: prune, copy, delete runs.

Each is an optimistic transaction where it must be: the keys it read are
watched, and a run that writes meanwhile makes the driver restart the plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from memorygraph.checkpointers.backends.keep_latest import Head, finished_calls, is_delta, root_of
from memorygraph.checkpointers.backends.redis_client import Batch, Plan, chunks
from memorygraph.checkpointers.backends.redis_keys import SaverKeys, blob_field, text

if TYPE_CHECKING:
    from memorygraph.checkpointers.backends.redis_saver import RedisSaver

__all__ = ["copy_plan", "delete_runs_plan", "prune_plan"]


def prune_plan(saver: RedisSaver, thread_id: str) -> Plan[None]:
    """Keep the latest checkpoint of each namespace (`prune_thread`'s plan), in one WATCH."""
    keys = saver.keys
    registry, ns_key = keys.registry(thread_id), keys.namespaces(thread_id)
    [found] = yield Batch([("SMEMBERS", ns_key)], watch=(registry, ns_key))
    namespaces = sorted(text(ns) for ns in found)
    if not namespaces:
        return
    id_keys = tuple(keys.ids(thread_id, ns) for ns in namespaces)
    replies = yield Batch([("ZRANGE", key, 0, -1) for key in id_keys], watch=id_keys)
    ids = {ns: [text(cid) for cid in got] for ns, got in zip(namespaces, replies, strict=True)}
    where = [(ns, cid) for ns in namespaces for cid in ids[ns]]
    rows = yield Batch(
        [("HMGET", keys.checkpoint(thread_id, ns, cid), "mtype", "metadata") for ns, cid in where]
        + [("HKEYS", keys.blobs(thread_id, ns)) for ns in namespaces]
    )
    metadata: dict[tuple[str, str], Any] = {}
    for (ns, cid), (mtype, mdata) in zip(where, rows, strict=False):
        if mtype is not None:
            metadata[(ns, cid)] = saver.serde.loads_typed((text(mtype), mdata))
    if any(is_delta(meta) for meta in metadata.values()):
        raise NotImplementedError(
            f"RedisSaver cannot prune thread {thread_id!r}: it uses a DeltaChannel"
        )
    blob_fields = dict(zip(namespaces, rows[len(where) :], strict=True))
    heads = [
        Head(ns, ids[ns][-1], root_of(metadata.get((ns, ids[ns][-1]), {})))
        for ns in namespaces
        if ids[ns]
    ]
    calls = finished_calls(heads, set(ids.get("", [])))
    kept = {head.namespace: head.checkpoint_id for head in heads if head.namespace not in calls}
    versions = yield Batch(
        [
            ("HMGET", keys.checkpoint(thread_id, ns, cid), "type", "checkpoint")
            for ns, cid in kept.items()
        ]
    )
    keep_fields: dict[str, set[bytes]] = {}
    for (ns, _), (ctype, cdata) in zip(kept.items(), versions, strict=True):
        saved = saver.serde.loads_typed((text(ctype), cdata)) if ctype is not None else {}
        channel_versions = saved.get("channel_versions") or {}
        keep_fields[ns] = {blob_field(ch, ver) for ch, ver in channel_versions.items()}
    yield Batch(
        _prune_commands(keys, thread_id, namespaces, ids, kept, keep_fields, blob_fields),
        atomic=True,
    )


def _prune_commands(
    keys: SaverKeys,
    thread_id: str,
    namespaces: list[str],
    ids: dict[str, list[str]],
    kept: dict[str, str],
    keep_fields: dict[str, set[bytes]],
    blob_fields: dict[str, list[bytes]],
) -> list[tuple[Any, ...]]:
    doomed: list[str] = []
    commands: list[tuple[Any, ...]] = []
    for ns in namespaces:
        head = kept.get(ns)
        for cid in ids[ns]:
            if cid != head:
                doomed += [keys.checkpoint(thread_id, ns, cid), keys.writes(thread_id, ns, cid)]
        if head is None:
            doomed += [keys.ids(thread_id, ns), keys.blobs(thread_id, ns)]
            commands.append(("SREM", keys.namespaces(thread_id), ns))
            continue
        old = [cid for cid in ids[ns] if cid != head]
        for part in chunks(old):
            commands.append(("ZREM", keys.ids(thread_id, ns), *part))
        commands.append(("HSET", keys.checkpoint(thread_id, ns, head), "parent", ""))
        stale = [f for f in blob_fields[ns] if f not in keep_fields.get(ns, set())]
        for fields in chunks(stale):
            commands.append(("HDEL", keys.blobs(thread_id, ns), *fields))
    for part in chunks(doomed):
        commands += [("DEL", *part), ("SREM", keys.registry(thread_id), *part)]
    return commands


def copy_plan(saver: RedisSaver, source: str, target: str) -> Plan[None]:
    """Copy every key of ``source`` under ``target``'s names (``DUMP``/``RESTORE``)."""
    keys = saver.keys
    registry = keys.registry(source)
    [members] = yield Batch([("SMEMBERS", registry)], watch=(registry,))
    names = sorted(text(member) for member in members)
    if not names:
        return
    dumps = yield Batch([("DUMP", name) for name in names])
    old, new = keys.thread(source), keys.thread(target)
    copied = [
        (new + name[len(old) :], data)
        for name, data in zip(names, dumps, strict=True)
        if data is not None and name.startswith(old)
    ]
    commands: list[tuple[Any, ...]] = [
        ("RESTORE", name, 0, data, "REPLACE") for name, data in copied
    ]
    commands += [
        ("SADD", keys.registry(target), *[name for name, _ in part]) for part in chunks(copied)
    ]
    commands.append(("SADD", keys.threads, target))
    yield Batch(commands, atomic=True)


def delete_runs_plan(saver: RedisSaver, run_ids: Sequence[str]) -> Plan[None]:
    """Delete the checkpoints (and their writes) whose metadata names one of ``run_ids``.

    Every checkpoint's metadata is read: this walks all threads. Channel values
    only the deleted checkpoints pointed to stay until the thread is pruned or
    deleted.
    """
    keys, wanted = saver.keys, set(run_ids)
    if not wanted:
        return
    [threads] = yield Batch([("SMEMBERS", keys.threads)])
    threads = sorted(text(thread) for thread in threads)
    replies = yield Batch([("SMEMBERS", keys.namespaces(t)) for t in threads])
    pairs = [(t, text(ns)) for t, found in zip(threads, replies, strict=True) for ns in found]
    replies = yield Batch([("ZRANGE", keys.ids(t, ns), 0, -1) for t, ns in pairs])
    where = [(t, ns, text(cid)) for (t, ns), ids in zip(pairs, replies, strict=True) for cid in ids]
    rows = yield Batch([("HMGET", keys.checkpoint(*w), "mtype", "metadata") for w in where])
    commands: list[tuple[Any, ...]] = []
    for (thread_id, ns, cid), (mtype, mdata) in zip(where, rows, strict=True):
        if mtype is None:
            continue
        if saver.serde.loads_typed((text(mtype), mdata)).get("run_id") not in wanted:
            continue
        doomed = [keys.checkpoint(thread_id, ns, cid), keys.writes(thread_id, ns, cid)]
        commands += [
            ("DEL", *doomed),
            ("ZREM", keys.ids(thread_id, ns), cid),
            ("SREM", keys.registry(thread_id), *doomed),
        ]
    if commands:
        yield Batch(commands, atomic=True)
