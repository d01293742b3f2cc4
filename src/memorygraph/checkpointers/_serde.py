"""Register memorygraph's record types with LangGraph's checkpoint serializer.

LangGraph's default `JsonPlusSerializer` is permissive: it rebuilds any class
named in a checkpoint, and logs "Deserializing unregistered type ..." for each
one outside its own safe list. A serializer built with an explicit
`allowed_msgpack_modules` list rebuilds exactly the listed classes (plus
LangGraph's safe types: messages, datetimes, `Send`, `Interrupt`, ...) and
warns about nothing it was told to expect.

`memorygraph_serializer` also packs each `ContextPackage` once: a run saves
the thread's package with every checkpoint and with the writes of the step
that built it (about six times a turn), and a package never changes once
built, so its bytes are kept while it is among the last ones packed.
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Iterable
from enum import Enum
from typing import Any, TypeVar, cast

import ormsgpack
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.base import maybe_add_typed_methods
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import BaseModel

from memorygraph import records
from memorygraph.caching import ObjectCache
from memorygraph.records import ContextPackage

__all__ = ["accept_records", "memorygraph_serializer", "register_types"]

SaverT = TypeVar("SaverT", bound=BaseCheckpointSaver[Any])


def _record_types() -> list[type]:
    # Read on every call, so a record added to `records.__all__` is registered
    # without touching this module.
    found: list[type] = []
    for name in records.__all__:
        value = getattr(records, name)
        if inspect.isclass(value) and issubclass(value, BaseModel | Enum):
            found.append(value)
    return found


def _allowlist(extra_types: Iterable[type]) -> list[tuple[str, str]]:
    keys = {(cls.__module__, cls.__name__) for cls in (*_record_types(), *extra_types)}
    # Checkpoints written before the enums moved to `memorygraph.kinds` name them
    # under `memorygraph.records`, which still exports them: both paths load.
    keys |= {(records.__name__, cls.__name__) for cls in _record_types()}
    return sorted(keys)


_PACKED: ObjectCache[ContextPackage, tuple[bytes, ormsgpack.Ext]] = ObjectCache(32)
_KEPT_BYTES = 1 << 20  # a package that excludes huge items is packed each time


def _as_ext(code: int, data: bytes) -> ormsgpack.Ext:
    return ormsgpack.Ext(code, data)


class RecordSerializer(JsonPlusSerializer):
    """`JsonPlusSerializer` that packs each `ContextPackage` once, to the same bytes.

    A package is frozen and its id is the hash of its content: the bytes of
    its first packing are its bytes for as long as it lives. A package saved
    again (in the next checkpoint, alone as a write, or inside a whole
    checkpoint, which the SQLite saver packs in one piece) reuses them. The
    output is byte for byte what `JsonPlusSerializer` writes.
    """

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        if type(obj) is ContextPackage:
            return "msgpack", self._packed(obj)[0]
        values = obj.get("channel_values") if type(obj) is dict else None
        if type(values) is dict and any(type(v) is ContextPackage for v in values.values()):
            # A whole checkpoint: its packages go in as the msgpack extension
            # values their own packing made, which ormsgpack writes as they are.
            swapped = {
                key: self._packed(value)[1] if type(value) is ContextPackage else value
                for key, value in values.items()
            }
            obj = {**obj, "channel_values": swapped}
        return super().dumps_typed(obj)

    def _packed(self, package: ContextPackage) -> tuple[bytes, ormsgpack.Ext]:
        hit = _PACKED.get(package)
        if hit is None:
            data = super().dumps_typed(package)[1]
            hit = (data, ormsgpack.unpackb(data, ext_hook=_as_ext))
            if len(data) <= _KEPT_BYTES:
                _PACKED.put(package, hit)
        return hit


def memorygraph_serializer(*, extra_types: Iterable[type] = ()) -> JsonPlusSerializer:
    """Return a checkpoint serializer that knows memorygraph's record types.

    Every saver that `open_checkpointer` opens uses it. Loading a checkpoint
    that holds `Fact`, `ContextPackage` or any other record from
    `memorygraph.records` rebuilds the typed object and logs no warning.

    The allowlist is explicit, so a class that is neither a memorygraph record,
    one of LangGraph's safe types, nor listed in ``extra_types`` is not rebuilt:
    LangGraph logs "Blocked deserialization" and returns its field data
    instead. Put your own state types in ``extra_types`` (or pass a saver
    through `register_types`).

    It packs each context package once (`RecordSerializer`): the bytes are
    the same as `JsonPlusSerializer`'s.

    Args:
        extra_types: More pydantic models, dataclasses or enums your own graph
            state holds.

    Returns:
        A `JsonPlusSerializer` (a `RecordSerializer`) with an explicit msgpack allowlist.

    Example:
        >>> from memorygraph.checkpointers import memorygraph_serializer
        >>> from memorygraph.records import Fact
        >>> serde = memorygraph_serializer()
        >>> fact = Fact(id="f1", key="name", value="Ada")
        >>> serde.loads_typed(serde.dumps_typed(fact)) == fact
        True
    """
    return RecordSerializer(allowed_msgpack_modules=_allowlist(extra_types))


def register_types(checkpointer: SaverT, *, extra_types: Iterable[type] = ()) -> SaverT:
    """Return a copy of your own saver that also accepts memorygraph's records.

    This wraps `BaseCheckpointSaver.with_allowlist`: the copy shares the
    original's connection, and its serializer's allowlist gains the record
    types (and ``extra_types``).

    A saver built with LangGraph's default, permissive serializer (which loads
    any class and logs a warning for each unregistered one) cannot be narrowed
    by `with_allowlist`; its copy gets `memorygraph_serializer` instead. The
    original saver is left as it was. The copy rebuilds only the records, the
    ``extra_types`` and LangGraph's safe types, which is all that
    `create_memory_graph`'s state holds.

    Args:
        checkpointer: A saver whose serializer has an explicit allowlist.
        extra_types: More classes your own graph state holds.

    Returns:
        A saver of the same class whose serializer accepts the records.

    Example:
        >>> from langgraph.checkpoint.memory import InMemorySaver
        >>> from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
        >>> from memorygraph.checkpointers import register_types
        >>> strict = InMemorySaver(serde=JsonPlusSerializer(allowed_msgpack_modules=None))
        >>> register_types(strict) is strict
        False
        >>> permissive = InMemorySaver()
        >>> registered = register_types(permissive)
        >>> registered.storage is permissive.storage, registered.serde is permissive.serde
        (True, False)
    """
    serde = checkpointer.serde
    if isinstance(serde, JsonPlusSerializer) and _is_permissive(serde):
        clone = copy.copy(checkpointer)
        clone.serde = maybe_add_typed_methods(memorygraph_serializer(extra_types=extra_types))
        return clone
    return cast(SaverT, checkpointer.with_allowlist(_allowlist(extra_types)))


def _is_permissive(serde: JsonPlusSerializer) -> bool:
    # LangGraph keeps the allowlist private; True means "load anything, warn".
    return getattr(serde, "_allowed_msgpack_modules", None) is True and not serde.pickle_fallback


_SERDE_LOGGER = "langgraph.checkpoint.serde.jsonplus"


class _ExpectedRecords(logging.Filter):
    """Drops the serializer's "unregistered type" warning for memorygraph's own records."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        unregistered = str(record.msg).startswith("Deserializing unregistered type")
        return not (
            unregistered and isinstance(args, tuple) and args and args[0] == records.__name__
        )


_EXPECTED_RECORDS = _ExpectedRecords()


def accept_records(checkpointer: SaverT) -> SaverT:
    """Return the saver a graph of yours should use so that memorygraph's records load quietly.

    `memorygraph.add_memory` calls it when your graph is compiled with a saver.
    A serializer with an explicit allowlist (strict, or listing your types) gets
    a copy that also lists the records (`register_types`; your types stay
    listed). LangGraph's default, permissive serializer is kept as it is, so
    that every class your own state holds still loads; since memorygraph's
    records are expected there, LangGraph's "Deserializing unregistered type
    memorygraph.records..." warning is not logged for them (a logging filter on
    its serializer's logger; warnings about other classes are left alone).

    Args:
        checkpointer: Your saver.

    Returns:
        The saver to compile with: a copy that lists the records, or the saver itself.

    Example:
        >>> from langgraph.checkpoint.memory import InMemorySaver
        >>> permissive = InMemorySaver()
        >>> accept_records(permissive) is permissive
        True
    """
    serde = checkpointer.serde
    if not isinstance(serde, JsonPlusSerializer):
        return checkpointer
    if _is_permissive(serde):
        logger = logging.getLogger(_SERDE_LOGGER)
        if _EXPECTED_RECORDS not in logger.filters:
            logger.addFilter(_EXPECTED_RECORDS)
        return checkpointer
    return register_types(checkpointer)
