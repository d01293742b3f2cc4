"""`adapter_for`: the one place that picks a backend, for a URL, a saver or a store.

Each public operation (open, lock, prune, list, forget, vacuum) asks it once
and calls the adapter it returns. Objects are matched by class (subclasses
included), in the order of `ADAPTERS`; a saver no adapter knows gets `AnySaver`,
which uses LangGraph's own methods.
"""

from __future__ import annotations

from memorygraph.checkpointers.backends import memory, postgres, redis, sqlite
from memorygraph.checkpointers.backends.base import AnySaver, BackendAdapter
from memorygraph.checkpointers.urls import Target, parse_url

__all__ = [
    "ADAPTERS",
    "adapter_for",
    "avacuum",
    "database_errors",
    "failure_errors",
    "is_corruption",
    "sync_only",
    "vacuum",
]

ADAPTERS: tuple[BackendAdapter, ...] = (
    memory.ADAPTER,
    sqlite.ADAPTER,
    postgres.ADAPTER,
    redis.ADAPTER,
)
"""One adapter per backend, in the order `adapter_for` asks them."""
_ANY = AnySaver()


def adapter_for(target: object) -> BackendAdapter:
    """The adapter of a URL (a string or a parsed `Target`), a saver or a store.

    Raises:
        BackendError: ``target`` is a string that is not a supported URL.

    Example:
        >>> from langgraph.checkpoint.memory import InMemorySaver
        >>> adapter_for("sqlite:///threads.db").name, adapter_for(InMemorySaver()).name
        ('sqlite', 'memory')
    """
    if isinstance(target, str):
        target = parse_url(target)
    if isinstance(target, Target):
        return next(adapter for adapter in ADAPTERS if adapter.name == target.kind)
    return next((adapter for adapter in ADAPTERS if adapter.handles(target)), _ANY)


def _groups(objs: tuple[object, ...]) -> list[tuple[BackendAdapter, list[object]]]:
    present = [obj for obj in objs if obj is not None]
    groups = [(a, [obj for obj in present if adapter_for(obj) is a]) for a in ADAPTERS]
    return [(adapter, mine) for adapter, mine in groups if mine]


def vacuum(*objs: object) -> list[str]:
    """Rewrite the files behind savers and stores so deleted bytes are gone; what was rewritten.

    Each backend's adapter gets its own objects at once, so a file or a server
    that two of them share is rewritten once. None is skipped.
    """
    done: list[str] = []
    for adapter, mine in _groups(objs):
        done += adapter.vacuum(mine)
    return done


async def avacuum(*objs: object) -> list[str]:
    """Async twin of `vacuum`."""
    done: list[str] = []
    for adapter, mine in _groups(objs):
        done += await adapter.avacuum(mine)
    return done


def sync_only(*objs: object) -> bool:
    """Whether async callers must drive any of ``objs`` from a worker thread."""
    return any(adapter_for(obj).sync_only(obj) for obj in objs if obj is not None)


def database_errors() -> tuple[type[Exception], ...]:
    """Every error the installed database drivers raise."""
    return tuple(error for adapter in ADAPTERS for error in adapter.database_errors())


def failure_errors() -> tuple[type[Exception], ...]:
    """What a saver or store raises when its database fails in a run (disk full, lost link)."""
    return tuple(error for adapter in ADAPTERS for error in adapter.failure_errors())


def is_corruption(exc: BaseException) -> bool:
    """Whether a database error raised loading a checkpoint means the stored bytes are bad."""
    return any(adapter.is_corruption(exc) for adapter in ADAPTERS)
