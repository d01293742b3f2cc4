"""Load a thread's checkpoint before a run, and refuse one that is corrupt or not the caller's.

LangGraph's savers react to a damaged checkpoint in many ways: a truncated or
bit-flipped blob raises ``ValueError`` or ``TypeError`` from the decoder, an
unknown serialization type raises ``NotImplementedError``, a damaged SQLite
page raises ``sqlite3.DatabaseError``, a record whose class name was damaged
comes back as a plain dict (the serializer logs "Blocked deserialization"), and
a PostgreSQL blob row that went missing simply drops the channel, which is a
silent reset of the thread. `load_thread` turns each of these into a
`CorruptStateError` that names the thread.

It also enforces seed 003's first invariant, "a session belongs to exactly one
tenant": a thread whose last package was built for another tenant or user is
refused with an `IdentityError` that does not say whose it is.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import types
from collections.abc import Mapping
from typing import Annotated, Any, NotRequired, Union, get_args, get_origin, get_type_hints

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from memorygraph.context import Identity
from memorygraph.errors import CorruptStateError, IdentityError
from memorygraph.records import ContextPackage
from memorygraph.state import MemoryState

__all__ = [
    "aload_thread",
    "averify_snapshot",
    "check_owner",
    "check_values",
    "corrupt_error",
    "is_corruption",
    "load_thread",
    "verify_snapshot",
]

# What a decoder raises on bytes it cannot read back.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    NotImplementedError,
    EOFError,
)
_SQLITE_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def _postgres_corruption() -> tuple[type[BaseException], ...]:
    try:
        from psycopg.errors import DataCorrupted, IndexCorrupted
    except ImportError:
        return ()
    return (DataCorrupted, IndexCorrupted)


def is_corruption(exc: BaseException) -> bool:
    """Whether an exception raised while loading a checkpoint means the stored bytes are bad."""
    if isinstance(exc, sqlite3.DatabaseError):
        name = getattr(exc, "sqlite_errorname", "") or ""
        return name.startswith(_SQLITE_CORRUPT) or "malformed" in str(exc)
    if isinstance(exc, _postgres_corruption()):
        return True
    return isinstance(exc, _DECODE_ERRORS)


def corrupt_error(thread_id: object, exc: BaseException) -> CorruptStateError:
    """Wrap a load failure in a `CorruptStateError` naming the thread."""
    return CorruptStateError(str(thread_id), f"{type(exc).__name__}: {str(exc)[:200]}")


# --- shape checks --------------------------------------------------------------------------


def _unwrap(hint: Any) -> Any:
    while get_origin(hint) in (Annotated, NotRequired):
        hint = get_args(hint)[0]
    return hint


def _conforms(value: Any, hint: Any) -> bool:
    hint = _unwrap(hint)
    origin = get_origin(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_conforms(value, arg) for arg in get_args(hint))
    if origin is list:
        (item,) = get_args(hint) or (Any,)
        return isinstance(value, list) and all(_conforms(v, item) for v in value)
    if hint is None or hint is type(None):
        return value is None
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a shape this check does not know: leave it to the reducers


_HINTS = get_type_hints(MemoryState, include_extras=True)


def check_values(thread_id: str, values: Mapping[str, Any]) -> None:
    """Raise `CorruptStateError` if a memorygraph key holds a value of the wrong shape.

    A record whose class name was damaged loads back as a plain dict, and a
    message list as something else: such a state would be packed wrongly or
    fail later, far from the cause.
    """
    for key, hint in _HINTS.items():
        if key in values and not _conforms(values[key], hint):
            raise CorruptStateError(
                thread_id,
                f"channel {key!r} holds a {type(values[key]).__name__} of the wrong shape",
            )


class _MissingValue(CorruptStateError):
    """A channel's value is missing: corrupt, or read while another run pruned it."""


# A run on the same thread in another process can prune the checkpoint being
# read (PostgresSaver reads a checkpoint's row and its blobs apart); reading the
# thread's latest checkpoint again then succeeds. Damage stays damaged.
_MISSING_RETRIES = 3
_RETRY_SECONDS = 0.05


def _check_tuple(thread_id: str, saved: CheckpointTuple, *, typed: bool) -> dict[str, Any]:
    checkpoint = saved.checkpoint
    try:
        values = dict(checkpoint["channel_values"])
        versions = dict(checkpoint["channel_versions"])
    except (KeyError, TypeError, ValueError) as exc:
        raise corrupt_error(thread_id, exc) from exc
    if "messages" in versions and "messages" not in values:
        # A saver drops a channel whose stored value is missing: that would
        # start the thread over without its history.
        raise _MissingValue(thread_id, "channel 'messages' has a version but no stored value")
    if typed:
        check_values(thread_id, values)
    return values


def check_owner(identity: Identity, values: Mapping[str, Any]) -> None:
    """Refuse a thread whose last package was built for another tenant or user.

    Raises:
        IdentityError: The thread belongs to someone else; the message does not
            say whom.
    """
    package = values.get("context_package")
    owner: tuple[object, object]
    if isinstance(package, ContextPackage):
        owner = (package.tenant_id, package.user_id)
    elif isinstance(package, Mapping):  # a saver that loads records as plain data
        owner = (package.get("tenant_id"), package.get("user_id"))
    else:
        return
    if owner[0] and owner != (identity.tenant_id, identity.user_id):
        raise IdentityError(
            f"thread {identity.thread_id!r} belongs to another tenant or user; a thread "
            "belongs to exactly one, so use a thread id of your own"
        )


def verify_snapshot(
    checkpointer: BaseCheckpointSaver[Any] | None,
    config: RunnableConfig,
    values: Mapping[str, Any],
    *,
    typed: bool,
) -> None:
    """Check the values `get_state` returned, as `load_thread` checks a run's start.

    Raises:
        CorruptStateError: A value has the wrong shape, or the saved checkpoint
            lost its messages: LangGraph then shows an empty list, so an empty
            or missing ``messages`` makes this reload the checkpoint and look.
    """
    thread_id = str((config.get("configurable") or {}).get("thread_id"))
    if typed:
        check_values(thread_id, values)
    if not values.get("messages") and checkpointer is not None:
        saved = checkpointer.get_tuple(_thread_config(config))
        if saved is not None:
            _check_tuple(thread_id, saved, typed=typed)


async def averify_snapshot(
    checkpointer: BaseCheckpointSaver[Any] | None,
    config: RunnableConfig,
    values: Mapping[str, Any],
    *,
    typed: bool,
) -> None:
    """Async twin of `verify_snapshot`."""
    thread_id = str((config.get("configurable") or {}).get("thread_id"))
    if typed:
        check_values(thread_id, values)
    if not values.get("messages") and checkpointer is not None:
        saved = await checkpointer.aget_tuple(_thread_config(config))
        if saved is not None:
            _check_tuple(thread_id, saved, typed=typed)


def _thread_config(config: RunnableConfig | None) -> RunnableConfig:
    configurable = dict((config or {}).get("configurable") or {})
    return {"configurable": configurable}


def load_thread(
    checkpointer: BaseCheckpointSaver[Any],
    config: RunnableConfig | None,
    identity: Identity,
    *,
    typed: bool = True,
) -> dict[str, Any]:
    """Load the thread's saved values, checked; an empty dict for a new thread.

    Args:
        checkpointer: The graph's saver.
        config: The run's config (its ``configurable`` names the thread).
        identity: Who is calling.
        typed: Whether the saver's serializer rebuilds memorygraph's records
            (`memorygraph.checkpointers.register_types`); only then can a
            record that came back as plain data be told from a damaged one.

    Raises:
        CorruptStateError: The checkpoint cannot be loaded back as it was saved.
        IdentityError: The thread belongs to another tenant or user.
    """
    for attempt in range(1, _MISSING_RETRIES + 1):
        try:
            saved = checkpointer.get_tuple(_thread_config(config))
        except Exception as exc:
            if is_corruption(exc):
                raise corrupt_error(identity.thread_id, exc) from exc
            raise
        values = _owned_values(identity, saved, typed=typed, last=attempt == _MISSING_RETRIES)
        if values is not None:
            return values
        time.sleep(_RETRY_SECONDS * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _owned_values(
    identity: Identity, saved: CheckpointTuple | None, *, typed: bool, last: bool
) -> dict[str, Any] | None:
    """The checked values of ``saved``, or None to read the thread again."""
    if saved is None:
        return {}
    try:
        values = _check_tuple(identity.thread_id, saved, typed=typed)
    except _MissingValue:
        if last:
            raise
        return None
    check_owner(identity, values)
    return values


async def aload_thread(
    checkpointer: BaseCheckpointSaver[Any],
    config: RunnableConfig | None,
    identity: Identity,
    *,
    typed: bool = True,
) -> dict[str, Any]:
    """Async twin of `load_thread`."""
    for attempt in range(1, _MISSING_RETRIES + 1):
        try:
            saved = await checkpointer.aget_tuple(_thread_config(config))
        except Exception as exc:
            if is_corruption(exc) and not _sync_only(exc):
                raise corrupt_error(identity.thread_id, exc) from exc
            raise
        values = _owned_values(identity, saved, typed=typed, last=attempt == _MISSING_RETRIES)
        if values is not None:
            return values
        await asyncio.sleep(_RETRY_SECONDS * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _sync_only(exc: BaseException) -> bool:
    # SqliteSaver and PostgresSaver refuse async calls with NotImplementedError.
    return isinstance(exc, NotImplementedError) and "async" in str(exc).lower()
