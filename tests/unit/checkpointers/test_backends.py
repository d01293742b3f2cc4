"""One adapter per backend: `adapter_for` picks it once, for a URL, a saver or a store."""

from __future__ import annotations

import ast
import asyncio
import sqlite3
from contextlib import ExitStack
from pathlib import Path

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

import memorygraph
from memorygraph.checkpointers import (
    RedisSaver,
    RedisStore,
    backends,
    delete_thread,
    list_threads,
    open_checkpointer,
    open_store,
)
from memorygraph.checkpointers.backends import (
    ADAPTERS,
    AnySaver,
    BackendAdapter,
    adapter_for,
    database_errors,
    failure_errors,
    is_corruption,
)

SRC = Path(memorygraph.__file__).parent


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("memory", "memory"),
        ("sqlite:///x.db", "sqlite"),
        ("sqlite:///:memory:", "sqlite"),
        ("postgresql://u@h/db", "postgres"),
        ("postgres://u@h/db", "postgres"),
        ("redis://h:6379/0", "redis"),
    ],
)
def test_a_url_picks_its_backend(url: str, name: str) -> None:
    assert adapter_for(url).name == name


def test_savers_and_stores_pick_their_backend(tmp_path: Path) -> None:
    assert adapter_for(InMemorySaver()).name == "memory"
    assert adapter_for(InMemoryStore()).name == "memory"
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with open_checkpointer(url) as saver, open_store(url) as store:
        assert adapter_for(saver).name == adapter_for(store).name == "sqlite"


def test_redis_classes_pick_the_redis_adapter() -> None:
    saver = RedisSaver.__new__(RedisSaver)
    store = RedisStore.__new__(RedisStore)
    assert adapter_for(saver).name == adapter_for(store).name == "redis"


def test_a_saver_no_adapter_knows_gets_its_own_methods() -> None:
    class Plain(InMemorySaver):
        pass

    class Other(BaseCheckpointSaver[str]):
        pass

    assert adapter_for(Plain()).name == "memory"  # subclasses are their backend's
    assert isinstance(adapter_for(Other()), AnySaver)
    assert adapter_for(Other()).name == "any"


def test_every_adapter_follows_the_protocol() -> None:
    names = [adapter.name for adapter in ADAPTERS]
    assert names == ["memory", "sqlite", "postgres", "redis"]
    members = [
        name
        for name, value in vars(BackendAdapter).items()
        if callable(value) and not name.startswith("_")
    ]
    assert len(members) >= 18
    for adapter in ADAPTERS:
        assert isinstance(adapter, AnySaver)
        for name in members:
            assert callable(getattr(adapter, name)), (adapter.name, name)


def test_driver_errors_are_gathered_from_every_adapter() -> None:
    assert sqlite3.Error in database_errors()
    assert sqlite3.OperationalError in failure_errors()
    corrupt = sqlite3.DatabaseError("database disk image is malformed")
    assert is_corruption(corrupt)
    assert not is_corruption(sqlite3.OperationalError("database is locked"))
    assert not is_corruption(ValueError("not a database error"))


def test_one_vacuum_for_a_saver_and_a_store_on_one_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    with open_checkpointer(url) as saver, open_store(url) as store:
        assert backends.vacuum(saver, store, None) == [str(tmp_path / "one.db")]
        assert backends.vacuum(InMemorySaver()) == []


def test_async_vacuum_of_an_async_sqlite_saver(tmp_path: Path) -> None:
    from memorygraph.checkpointers import aopen_checkpointer

    async def run() -> list[str]:
        async with aopen_checkpointer(f"sqlite:///{tmp_path / 'a.db'}") as saver:
            return await backends.avacuum(saver)

    assert asyncio.run(run()) == [str(tmp_path / "a.db")]


def test_delete_thread_vacuums_through_the_one_path(tmp_path: Path) -> None:
    with ExitStack() as stack:
        saver = stack.enter_context(open_checkpointer(f"sqlite:///{tmp_path / 'd.db'}"))
        delete_thread(saver, "nothing-here")
        assert list_threads(saver) == []


def _module_imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


@pytest.mark.parametrize(
    "relative",
    ["admin/forget.py", "checkpointers/_open.py", "checkpointers/_threads.py", "graph/_lock.py"],
)
def test_operations_name_no_backend_driver(relative: str) -> None:
    drivers = ("psycopg", "sqlite3", "aiosqlite", "redis", "langgraph.checkpoint.sqlite")
    found = [name for name in _module_imports(SRC / relative) if name.startswith(drivers)]
    assert found == []


def test_one_place_asks_whether_psycopg_is_installed() -> None:
    askers = [
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if "langgraph.checkpoint.postgres.aio" in _module_imports(path)
    ]
    assert askers == ["checkpointers/backends/postgres.py"]
