"""Load a thread's checkpoint before a run, and refuse one that is corrupt or not the caller's.

LangGraph's savers react to a damaged checkpoint in many ways: a truncated or
bit-flipped blob raises ``ValueError`` or ``TypeError`` from the decoder, an
unknown serialization type raises ``NotImplementedError``, a damaged SQLite
page raises ``sqlite3.DatabaseError``, a record whose class name was damaged
comes back as a plain dict (the serializer logs "Blocked deserialization"), and
a PostgreSQL blob row that went missing simply drops the channel, which is a
silent reset of the thread. `load_thread` turns each of these into a
`CorruptStateError` that names the thread.

It also enforces the first invariant, "a thread belongs to exactly one
tenant": every checkpoint a guarded run writes carries its owner in the
checkpoint metadata (`owner_config`), from the thread's first write on, so a
thread that paused before it ever packed is owned too. A run on a thread
owned by another tenant or user is refused with an `IdentityError` that does
not say whose it is.

`validate_run_input` is the one check of everything a run would save before
memorygraph's nodes run: a stream input, ``Command(update=...)``,
``Command(resume=...)`` and ``Command(goto=...)``. `MemoryGraph`, the graphs
`add_memory` prepares and the agent middleware call it before LangGraph
writes the first checkpoint.
"""

from __future__ import annotations

import asyncio
import time
import types
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Annotated, Any, NotRequired, Union, get_args, get_origin, get_type_hints

from langchain_core.messages import RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.constants import END
from langgraph.graph.message import add_messages
from langgraph.types import Command, Overwrite, Send

from memorygraph.checkpointers.backends import failure_errors
from memorygraph.checkpointers.backends import is_corruption as backend_corruption
from memorygraph.config import MemoryConfig
from memorygraph.context import Identity
from memorygraph.errors import (
    BackendError,
    CorruptStateError,
    IdentityError,
    InvalidMessageError,
)
from memorygraph.inputs import validate_messages
from memorygraph.nodes.approval import check_resume
from memorygraph.packing import build_package
from memorygraph.packing.package import fits_at_a_glance
from memorygraph.records import ContextPackage
from memorygraph.state import MemoryState

__all__ = [
    "aload_saved",
    "aload_thread",
    "averify_snapshot",
    "check_owner",
    "check_values",
    "corrupt_error",
    "database_errors",
    "database_failure",
    "is_corruption",
    "load_saved",
    "load_thread",
    "owner_config",
    "validate_run_input",
    "validate_state_update",
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


def is_corruption(exc: BaseException) -> bool:
    """Whether an exception raised while loading a checkpoint means the stored bytes are bad."""
    return backend_corruption(exc) or isinstance(exc, _DECODE_ERRORS)


def database_errors() -> tuple[type[BaseException], ...]:
    """What a saver or store raises when its database fails in a run (disk full, lost link)."""
    return failure_errors()


def database_failure(thread_id: object, exc: BaseException) -> BackendError:
    """Wrap a database failure during a run in a `BackendError` that says what to do."""
    return BackendError(
        f"the database failed during a run on thread {str(thread_id)!r} "
        f"({type(exc).__name__}: {str(exc).strip()[:200]}); the thread keeps its last "
        "saved checkpoint: fix the database (free disk space, check the server), then "
        "finish the run with invoke(None, config) or send the turn again"
    )


def corrupt_error(thread_id: object, exc: BaseException) -> CorruptStateError:
    """Wrap a load failure in a `CorruptStateError` naming the thread."""
    return CorruptStateError(str(thread_id), f"{type(exc).__name__}: {str(exc)[:200]}")


# --- shape checks --------------------------------------------------------------------------


def _unwrap(hint: Any) -> Any:
    while get_origin(hint) in (Annotated, NotRequired):
        hint = get_args(hint)[0]
    return hint


def _conforms(value: Any, hint: Any) -> bool:
    return _checker(hint)(value)


_Check = Callable[[Any], bool]
_CHECKERS: dict[int, tuple[Any, _Check]] = {}


def _checker(hint: Any) -> _Check:
    """``hint`` as a predicate, built once per hint: a state is checked on every run."""
    known = _CHECKERS.get(id(hint))
    if known is None or known[0] is not hint:
        known = _CHECKERS[id(hint)] = (hint, _compile(hint))  # the hint kept: its id stays its own
    return known[1]


def _always(value: Any) -> bool:
    return True


def _compile(hint: Any) -> _Check:
    hint = _unwrap(hint)
    origin = get_origin(hint)
    if hint is Any:
        return _always
    if origin in (Union, types.UnionType):
        args = [_unwrap(arg) for arg in get_args(hint)]
        if all(arg is None or isinstance(arg, type) for arg in args):
            # A union of plain classes (and None): one isinstance call.
            classes = tuple(type(None) if arg is None else arg for arg in args)
            return lambda value: isinstance(value, classes)
        parts = [_compile(arg) for arg in args]
        return lambda value: any(part(value) for part in parts)
    if origin is list:
        (item,) = get_args(hint) or (Any,)
        each = _compile(item)
        return lambda value: isinstance(value, list) and all(each(v) for v in value)
    if hint is None or hint is type(None):
        return lambda value: value is None
    if isinstance(hint, type):
        return lambda value: isinstance(value, hint)
    return _always  # a shape this check does not know: leave it to the reducers


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


OWNER_TENANT = "memorygraph_tenant_id"
OWNER_USER = "memorygraph_user_id"


def owner_config(config: RunnableConfig | None, identity: Identity) -> RunnableConfig:
    """The run's config with its owner added to the metadata of every checkpoint it writes.

    LangGraph copies the string values of ``config["metadata"]`` into each
    checkpoint's metadata, so the thread's first checkpoint (its input) already
    names its owner; whatever the caller put under these keys is replaced.
    """
    run: dict[str, Any] = dict(config or {})
    run["metadata"] = {
        **(run.get("metadata") or {}),
        OWNER_TENANT: identity.tenant_id,
        OWNER_USER: identity.user_id,
    }
    return run  # type: ignore[return-value]


def _owner(
    values: Mapping[str, Any], metadata: Mapping[str, Any] | None
) -> tuple[object, object] | None:
    if metadata and metadata.get(OWNER_TENANT):
        return (metadata.get(OWNER_TENANT), metadata.get(OWNER_USER))
    # A thread written before owners were recorded: its last package says.
    package = values.get("context_package")
    if isinstance(package, ContextPackage):
        return (package.tenant_id, package.user_id)
    if isinstance(package, Mapping):  # a saver that loads records as plain data
        return (package.get("tenant_id"), package.get("user_id"))
    return None


def check_owner(
    identity: Identity, values: Mapping[str, Any], metadata: Mapping[str, Any] | None = None
) -> None:
    """Refuse a thread that another tenant or user started.

    Args:
        identity: Who is calling.
        values: The thread's saved values.
        metadata: The metadata of the thread's latest checkpoint, which names
            the owner (`owner_config`); without it, the last package does.

    Raises:
        IdentityError: The thread belongs to someone else; the message does not
            say whom.
    """
    owner = _owner(values, metadata)
    if owner is not None and owner[0] and owner != (identity.tenant_id, identity.user_id):
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
    return load_saved(checkpointer, config, identity, typed=typed)[0]


def load_saved(
    checkpointer: BaseCheckpointSaver[Any],
    config: RunnableConfig | None,
    identity: Identity,
    *,
    typed: bool = True,
) -> tuple[dict[str, Any], CheckpointTuple | None]:
    """`load_thread`, with the checkpoint tuple it read (None for a new thread).

    `MemoryGraph` hands the tuple to the run it guards, so a turn reads its
    thread once (`memorygraph.graph.builder`).
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
            return values, saved
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
    check_owner(identity, values, saved.metadata)
    return values


async def aload_thread(
    checkpointer: BaseCheckpointSaver[Any],
    config: RunnableConfig | None,
    identity: Identity,
    *,
    typed: bool = True,
) -> dict[str, Any]:
    """Async twin of `load_thread`."""
    return (await aload_saved(checkpointer, config, identity, typed=typed))[0]


async def aload_saved(
    checkpointer: BaseCheckpointSaver[Any],
    config: RunnableConfig | None,
    identity: Identity,
    *,
    typed: bool = True,
) -> tuple[dict[str, Any], CheckpointTuple | None]:
    """Async twin of `load_saved`."""
    for attempt in range(1, _MISSING_RETRIES + 1):
        try:
            saved = await checkpointer.aget_tuple(_thread_config(config))
        except Exception as exc:
            if is_corruption(exc) and not _sync_only(exc):
                raise corrupt_error(identity.thread_id, exc) from exc
            raise
        values = _owned_values(identity, saved, typed=typed, last=attempt == _MISSING_RETRIES)
        if values is not None:
            return values, saved
        await asyncio.sleep(_RETRY_SECONDS * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _sync_only(exc: BaseException) -> bool:
    # SqliteSaver and PostgresSaver refuse async calls with NotImplementedError.
    return isinstance(exc, NotImplementedError) and "async" in str(exc).lower()


# --- the run's input ---------------------------------------------------------------------


def _refuse(what: str) -> InvalidMessageError:
    return InvalidMessageError(what)


def _pairs(update: object, where: str) -> list[tuple[str, Any]]:
    if update is None:
        return []
    if isinstance(update, Mapping):
        pairs = list(update.items())
    elif isinstance(update, Sequence) and not isinstance(update, str | bytes):
        pairs = list(update)
        if not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
            raise _refuse(f"{where} must be a mapping or a list of (key, value) pairs")
    else:
        raise _refuse(f"{where} must be a mapping of state keys, got {type(update).__name__}")
    for key, _ in pairs:
        if not isinstance(key, str):
            raise _refuse(f"{where} has a key that is not a string: {key!r:.60}")
    return pairs


def _new_messages(raw: object) -> list[object]:
    if isinstance(raw, Sequence) and not isinstance(raw, str | bytes | tuple):
        return list(raw)
    return [raw]


def _check_update(
    pairs: list[tuple[str, Any]],
    saved: Mapping[str, Any],
    where: str,
    identity: Identity | None,
    config: MemoryConfig | None,
    *,
    pack: bool,
) -> None:
    messages: list[object] = []
    for key, value in pairs:
        if isinstance(value, Overwrite):
            value = value.value
        if key == "messages":
            messages += _new_messages(value)
            continue
        hint = _HINTS.get(key)
        if hint is not None and value is not None and not _conforms(value, hint):
            raise _refuse(
                f"{where}[{key!r}] holds a {type(value).__name__} of the wrong shape for "
                f"memorygraph's {key!r} (see memorygraph.MemoryState); pass the records "
                "themselves, or leave the key to memorygraph's nodes"
            )
    if not messages:
        return
    existing = list(saved.get("messages") or [])
    checked = validate_messages(existing, messages)
    if any(isinstance(message, RemoveMessage) for message in checked):
        try:  # what the reducer will do: refuse to remove an id the thread does not have
            add_messages(existing, checked)  # type: ignore[arg-type]
        except ValueError as exc:
            raise _refuse(f"{where}['messages']: {exc}") from exc
    if pack and identity is not None and config is not None:
        # The request alone must fit the budget (the CRITICAL items), or
        # build_package raises ContextBudgetExceeded before anything is saved;
        # a request far below the budget needs no package to say so.
        if not fits_at_a_glance(checked, identity=identity, config=config):
            build_package({"messages": checked}, identity=identity, config=config)


def _check_goto(
    command: Command[Any],
    saved: Mapping[str, Any],
    identity: Identity,
    config: MemoryConfig,
    nodes: Collection[str] | None,
) -> None:
    goto = command.goto
    targets = list(goto) if isinstance(goto, list | tuple) else [goto] if goto else []
    for target in targets:
        node = target.node if isinstance(target, Send) else target
        if not isinstance(node, str) or (nodes is not None and node not in nodes and node != END):
            raise _refuse(
                f"Command(goto=...) names {node!r:.60}, which is not a node of this graph"
            )
        if isinstance(target, Send) and isinstance(target.arg, Mapping):
            pairs = _pairs(target.arg, "Send(...).arg")
            _check_update(pairs, saved, "Send(...).arg", identity, config, pack=False)


def validate_run_input(
    input: Any,
    identity: Identity,
    saved: Mapping[str, Any],
    config: MemoryConfig,
    *,
    nodes: Collection[str] | None = None,
    require_messages: bool = True,
) -> None:
    """Refuse a run's input that cannot run, before LangGraph saves any of it.

    The one check of everything a run writes before memorygraph's nodes run:

    - a state input must be a mapping; its ``messages`` must pass
      `memorygraph.inputs.validate_messages` (roles, every part bounded and
      clean), the request alone must fit the budget, and every other
      memorygraph key must hold values of its declared type;
    - ``Command(update=...)`` (a mapping or a list of pairs) is checked the same
      way, ``Command(goto=...)`` must name nodes of the graph (a `Send`'s
      argument is checked as an update), ``Command(resume=...)`` must decide the
      pending approval, and ``Command(graph=Command.PARENT)`` is refused at the top;
    - ``None`` (resume from the last checkpoint) writes nothing new.

    Args:
        input: The run's input: a state update, a ``Command``, or None.
        identity: Who is calling.
        saved: The thread's saved values (`load_thread`).
        config: The budgets the graph packs with.
        nodes: The graph's node names, to check ``goto`` against.
        require_messages: Whether a state input must bring at least one
            message (the ready-made graph's: without one it would answer the
            thread's last request again).

    Raises:
        InvalidMessageError: A message, an update or a goto that cannot be saved.
        ResumeValueError: A resume value that does not decide the candidates.
        ContextBudgetExceeded: The request alone does not fit the budget.

    Example:
        >>> from memorygraph import MemoryConfig
        >>> who = Identity(thread_id="t1", tenant_id="acme", user_id="ana", scopes=())
        >>> validate_run_input(Command(update={"facts": [{"key": "a"}]}), who, {},
        ...                    MemoryConfig())
        Traceback (most recent call last):
        ...
        memorygraph.errors.InvalidMessageError: Command(update=...)['facts'] holds a list ...
    """
    if input is None:
        return
    if isinstance(input, Command):
        if input.graph is not None:
            raise _refuse("Command(graph=...) is for a node inside a graph, not a run's input")
        pairs = _pairs(input.update, "Command(update=...)")
        _check_update(pairs, saved, "Command(update=...)", identity, config, pack=True)
        _check_goto(input, saved, identity, config, nodes)
        check_resume(input, saved.get("pending") or [])
        return
    if isinstance(input, Mapping):
        pairs = _pairs(input, "the input")
    elif hasattr(input, "__dict__") and not isinstance(input, type):
        pairs = list(vars(input).items())  # a pydantic or dataclass state of your own
    else:
        raise _refuse(
            f"a run's input must be a mapping such as {{'messages': [...]}}, a Command, "
            f"or None; got {type(input).__name__}"
        )
    if require_messages and not any(key == "messages" and value for key, value in pairs):
        raise _refuse(
            "the input has no messages: pass {'messages': [...]} with the new turn; to "
            "finish an interrupted run, invoke with None; to answer an approval, "
            "Command(resume=...)"
        )
    _check_update(pairs, saved, "the input", identity, config, pack=True)


def validate_state_update(values: Any, saved: Mapping[str, Any]) -> None:
    """Check the values of ``update_state`` as `validate_run_input` checks an update.

    Args:
        values: The values given to ``update_state`` (a mapping, pairs, or None).
        saved: The thread's current values.

    Raises:
        InvalidMessageError: A message or a memorygraph key that cannot be saved.
    """
    if values is None or isinstance(values, Command):
        return
    pairs = _pairs(values, "update_state(values)")
    _check_update(pairs, saved, "update_state(values)", None, None, pack=False)
