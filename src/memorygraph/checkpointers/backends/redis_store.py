"""`RedisStore`: a LangGraph store on plain Redis 7 (no RedisJSON, no RediSearch).

Key layout, under a prefix (``memorygraph`` by default); ``{NS}`` is the
quoted dotted namespace, ``{K}`` the quoted key:

* ``P:s:ns`` - sorted set of every namespace that holds an item, all scored 0
  so that a namespace prefix is a lexicographic range;
* ``P:s:n:{NS}`` - sorted set of the namespace's keys, scored by the time of
  their last write (search returns the newest first);
* ``P:s:i:{NS}:{K}`` - hash: the value as JSON, ``created``, ``updated`` and,
  with a TTL, ``ttl`` in minutes; the key itself expires (``PEXPIRE``);
* ``P:s:exp`` - sorted set of the items with a TTL, scored by when they
  expire; reads sweep the expired ones out of the two indexes above.

Writes and deletes are Lua scripts, so an item and its index entries change
together. Search filters (``{"field": value}``, ``$eq``, ``$ne``, ``$gt``,
``$gte``, ``$lt``, ``$lte``) are evaluated in Python on the items loaded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from memorygraph.checkpointers.backends.redis_client import (
    DEFAULT_PREFIX,
    Batch,
    Plan,
    arun_plan,
    key_part,
    run_plan,
)

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["RedisStore"]

_PAGE = 200

# KEYS: item, namespace index, namespace registry, expiry index
# ARGV: value JSON, now (ISO), now (seconds), namespace, key, ttl minutes or "", expiry member
_PUT = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local created = redis.call('HGET', KEYS[1], 'created') or ARGV[2]
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'created', created, 'updated', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
redis.call('ZADD', KEYS[3], 0, ARGV[4])
if ARGV[6] ~= '' then
  local ms = math.max(1, math.floor(tonumber(ARGV[6]) * 60000))
  redis.call('HSET', KEYS[1], 'ttl', ARGV[6])
  redis.call('PEXPIRE', KEYS[1], ms)
  redis.call('ZADD', KEYS[4], now_ms + ms, ARGV[7])
else
  redis.call('ZREM', KEYS[4], ARGV[7])
end
return 1
"""

# KEYS: item, namespace index, namespace registry, expiry index
# ARGV: key, namespace, expiry member
_DELETE = """
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[3])
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[3], ARGV[2])
end
return 1
"""

# KEYS: item, expiry index; ARGV: expiry member
_REFRESH = """
local ttl = redis.call('HGET', KEYS[1], 'ttl')
if not ttl then return 0 end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = math.max(1, math.floor(tonumber(ttl) * 60000))
redis.call('PEXPIRE', KEYS[1], ms)
redis.call('ZADD', KEYS[2], now_ms + ms, ARGV[1])
return 1
"""

# KEYS: expiry index, namespace registry. Each member is JSON:
# [namespace index, item, key, namespace].
_SWEEP = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms, 'LIMIT', 0, 1000)
for _, member in ipairs(due) do
  local e = cjson.decode(member)
  local left = redis.call('PTTL', e[2])
  if left > 0 then
    redis.call('ZADD', KEYS[1], now_ms + left, member)
  else
    redis.call('ZREM', KEYS[1], member)
    if left == -2 then
      redis.call('ZREM', e[1], e[3])
      if redis.call('ZCARD', e[1]) == 0 then
        redis.call('ZREM', KEYS[2], e[4])
      end
    end
  end
end
return #due
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _pairs(reply: list[Any]) -> list[tuple[Any, Any]]:
    # redis-py pairs members with scores itself (newer versions) or not (older ones).
    if reply and isinstance(reply[0], list | tuple):
        return [(member, score) for member, score in reply]
    return list(zip(reply[::2], reply[1::2], strict=True))


def _dotted(namespace: tuple[str, ...]) -> str:
    return ".".join(namespace)


def _matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    labels = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    if not path:
        return True
    return all(want in ("*", have) for want, have in zip(path, labels, strict=True))


def _operator(value: Any, operator: str, wanted: Any) -> bool:
    if operator == "$eq":
        return bool(value == wanted)
    if operator == "$ne":
        return bool(value != wanted)
    if operator not in ("$gt", "$gte", "$lt", "$lte"):
        raise ValueError(f"unsupported filter operator {operator!r}")
    try:
        left, right = float(value), float(wanted)
    except (TypeError, ValueError):
        return False
    return {
        "$gt": left > right,
        "$gte": left >= right,
        "$lt": left < right,
        "$lte": left <= right,
    }[operator]


def _compare(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if any(str(key).startswith("$") for key in wanted):
            return all(_operator(value, op, arg) for op, arg in wanted.items())
        return isinstance(value, dict) and all(_compare(value.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(wanted)
            and all(_compare(v, w) for v, w in zip(value, wanted, strict=True))
        )
    return bool(value == wanted)


def _passes(value: dict[str, Any], filter: dict[str, Any] | None) -> bool:
    return not filter or all(_compare(value.get(key), want) for key, want in filter.items())


class RedisStore(BaseStore):
    """A LangGraph store on plain Redis commands, with TTL through Redis expiry.

    Open it with ``open_store("redis://host:6379/0")`` (or ``aopen_store``).
    Items are JSON; ``search`` returns the most recently written first and
    filters in Python; there is no semantic (vector) search. Sync methods use
    ``conn``; async ones use ``aconn`` when given, and otherwise run the sync
    ones in a worker thread.

    Args:
        conn: A sync redis-py client (``decode_responses`` off).
        aconn: An async redis-py client on the same server.
        prefix: The first part of every key.
        ttl: Default TTL and whether reads refresh it, as for LangGraph's stores.

    Example:
        >>> from memorygraph.checkpointers import open_store
        >>> with open_store("redis://127.0.0.1:6379/15?prefix=doctest") as store:
        ...     store.put(("notes",), "n1", {"text": "hi"})
        ...     found = store.get(("notes",), "n1").value
        ...     store.delete(("notes",), "n1")
        >>> found
        {'text': 'hi'}
    """

    supports_ttl = True

    def __init__(
        self,
        conn: redis.Redis,
        *,
        aconn: redis.asyncio.Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        ttl: TTLConfig | None = None,
    ) -> None:
        self.conn = conn
        self.aconn = aconn
        self.prefix = prefix
        self.ttl_config = ttl
        self._registry = f"{prefix}:s:ns"
        self._expiry = f"{prefix}:s:exp"

    # --- keys ----------------------------------------------------------------------------

    def _index(self, namespace: str) -> str:
        return f"{self.prefix}:s:n:{key_part(namespace)}"

    def _item(self, namespace: str, key: str) -> str:
        return f"{self.prefix}:s:i:{key_part(namespace)}:{key_part(key)}"

    def _expiry_member(self, namespace: str, key: str) -> str:
        return json.dumps([self._index(namespace), self._item(namespace, key), key, namespace])

    def _script_keys(self, namespace: str, key: str) -> tuple[str, str, str, str]:
        return (self._item(namespace, key), self._index(namespace), self._registry, self._expiry)

    def _refresh(self, namespace: str, key: str) -> tuple[Any, ...]:
        member = self._expiry_member(namespace, key)
        return ("EVAL", _REFRESH, 2, self._item(namespace, key), self._expiry, member)

    def _sweep(self) -> tuple[Any, ...]:
        return ("EVAL", _SWEEP, 2, self._expiry, self._registry)

    # --- plans ---------------------------------------------------------------------------

    def _batch_plan(self, ops: Sequence[Op]) -> Plan[list[Result]]:
        results: list[Result] = [None] * len(ops)
        if any(isinstance(op, SearchOp | ListNamespacesOp) for op in ops):
            yield Batch([self._sweep()])
        gets = [(i, op) for i, op in enumerate(ops) if isinstance(op, GetOp)]
        if gets:
            results_by_op = yield from self._get_plan([op for _, op in gets])
            for (i, _), item in zip(gets, results_by_op, strict=True):
                results[i] = item
        for i, op in enumerate(ops):
            if isinstance(op, SearchOp):
                results[i] = yield from self._search_plan(op)
            elif isinstance(op, ListNamespacesOp):
                results[i] = yield from self._list_plan(op)
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in ops:
            if isinstance(op, PutOp):
                puts[(op.namespace, op.key)] = op  # the last write of a key wins
        if puts:
            yield Batch([self._put_command(op) for op in puts.values()], atomic=True)
        return results

    def _put_command(self, op: PutOp) -> tuple[Any, ...]:
        namespace = _dotted(op.namespace)
        keys = self._script_keys(namespace, op.key)
        member = self._expiry_member(namespace, op.key)
        if op.value is None:
            return ("EVAL", _DELETE, 4, *keys, op.key, namespace, member)
        now = datetime.now(UTC)
        ttl = "" if op.ttl is None else repr(float(op.ttl))
        value = json.dumps(op.value, ensure_ascii=False, separators=(",", ":"))
        return (
            "EVAL",
            _PUT,
            4,
            *keys,
            value,
            now.isoformat(),
            repr(now.timestamp()),
            namespace,
            op.key,
            ttl,
            member,
        )

    def _get_plan(self, ops: Sequence[GetOp]) -> Plan[list[Item | None]]:
        commands: list[tuple[Any, ...]] = []
        for op in ops:
            namespace = _dotted(op.namespace)
            commands.append(("HGETALL", self._item(namespace, op.key)))
            if op.refresh_ttl:
                commands.append(self._refresh(namespace, op.key))
        replies = iter((yield Batch(commands)))
        items: list[Item | None] = []
        for op in ops:
            row = next(replies)
            if op.refresh_ttl:
                next(replies)
            items.append(self._to_item(op.namespace, op.key, row) if row else None)
        return items

    @staticmethod
    def _to_item(namespace: tuple[str, ...], key: str, row: dict[bytes, bytes]) -> Item:
        return Item(
            value=json.loads(row[b"value"]),
            key=key,
            namespace=namespace,
            created_at=datetime.fromisoformat(_text(row[b"created"])),
            updated_at=datetime.fromisoformat(_text(row[b"updated"])),
        )

    def _namespaces_plan(self, prefix: tuple[str, ...]) -> Plan[list[str]]:
        if not prefix:
            [members] = yield Batch([("ZRANGE", self._registry, 0, -1)])
            return [_text(member) for member in members]
        dotted = _dotted(prefix)
        low, high = b"[" + dotted.encode(), b"[" + dotted.encode() + b"\xff"
        [members] = yield Batch([("ZRANGEBYLEX", self._registry, low, high)])
        found = [_text(member) for member in members]
        return [ns for ns in found if ns == dotted or ns.startswith(dotted + ".")]

    def _search_plan(self, op: SearchOp) -> Plan[list[SearchItem]]:
        namespaces = yield from self._namespaces_plan(tuple(op.namespace_prefix))
        if not namespaces:
            return []
        replies = yield Batch(
            [("ZREVRANGE", self._index(ns), 0, -1, "WITHSCORES") for ns in namespaces]
        )
        entries = sorted(
            (
                (float(score), ns, _text(key))
                for ns, flat in zip(namespaces, replies, strict=True)
                for key, score in _pairs(flat)
            ),
            key=lambda entry: (-entry[0], entry[1], entry[2]),
        )
        wanted = max(op.offset, 0) + max(op.limit, 0)
        matched: list[SearchItem] = []
        for start in range(0, len(entries), _PAGE):
            if len(matched) >= wanted:
                break
            page = entries[start : start + _PAGE]
            rows = yield Batch([("HGETALL", self._item(ns, key)) for _, ns, key in page])
            for (_, ns, key), row in zip(page, rows, strict=True):
                if not row:
                    continue  # expired, not swept yet
                item = self._to_item(tuple(ns.split(".")), key, row)
                if _passes(item.value, op.filter):
                    matched.append(
                        SearchItem(
                            namespace=item.namespace,
                            key=item.key,
                            value=item.value,
                            created_at=item.created_at,
                            updated_at=item.updated_at,
                        )
                    )
        chosen = matched[op.offset : op.offset + op.limit]
        if op.refresh_ttl and chosen:
            yield Batch([self._refresh(_dotted(it.namespace), it.key) for it in chosen])
        return chosen

    def _list_plan(self, op: ListNamespacesOp) -> Plan[list[tuple[str, ...]]]:
        found = yield from self._namespaces_plan(())
        namespaces = [tuple(ns.split(".")) for ns in found]
        if op.match_conditions:
            namespaces = [
                ns for ns in namespaces if all(_matches(c, ns) for c in op.match_conditions)
            ]
        if op.max_depth is not None:
            namespaces = sorted({ns[: op.max_depth] for ns in namespaces})
        else:
            namespaces = sorted(namespaces)
        return namespaces[op.offset : op.offset + op.limit]

    # --- API -----------------------------------------------------------------------------

    def sweep_ttl(self) -> int:
        """Drop expired items from the indexes now (reads do it too); return how many.

        Redis deletes the items themselves when their TTL runs out;
        `memorygraph.admin.sweep_expired` calls this.
        """
        swept = 0
        while (count := int(self.conn.execute_command(*self._sweep()))) > 0:  # type: ignore[no-untyped-call]
            swept += count
        return swept

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run get, search, list-namespaces and put ops; reads see the store before the puts."""
        checked = _checked(ops)
        return run_plan(self.conn, lambda: self._batch_plan(checked), "store batch")

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of `batch`."""
        checked = _checked(ops)
        if self.aconn is None:
            return await asyncio.to_thread(self.batch, checked)
        return await arun_plan(self.aconn, lambda: self._batch_plan(checked), "store batch")


def _checked(ops: Iterable[Op]) -> list[Op]:
    from langgraph.store.base import validate_op_namespace

    checked = list(ops)
    for op in checked:
        if not isinstance(op, GetOp | PutOp | SearchOp | ListNamespacesOp):
            raise ValueError(f"unknown store operation {type(op).__name__}")
        validate_op_namespace(op)
    return checked
