"""Forgetting a thread, a user or a tenant leaves nothing of theirs, down to the bytes on disk.

Each test writes through the real graph (checkpoints, facts, the archive, the
general and the restricted audit), with a marker string unique to the subject,
then forgets the subject and reads the raw storage: the bytes of the SQLite
``.db`` and ``-wal`` files, every row of every PostgreSQL table, and every
value of every key in the Redis database. Data of the
subjects that were not forgotten is still there, which shows the reads can see.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from memorygraph import (
    MemoryConfig,
    MemoryContext,
    create_memory_graph,
    forget_tenant,
    forget_thread,
    forget_user,
)
from memorygraph.admin import aforget_tenant, aforget_thread, aforget_user
from memorygraph.checkpointers import (
    aopen_checkpointer,
    aopen_store,
    list_threads,
    open_checkpointer,
    open_store,
)
from memorygraph.cli import EXIT_OK, main
from memorygraph.retrieval import transcript_cache
from memorygraph.store.audit import read_audit
from memorygraph.store.facts import load_facts
from memorygraph.store.threads import owned_threads
from tests.fakes import RecordingChatModel

CONFIG = MemoryConfig(
    summarize_at_messages=4, keep_messages=2, audit_full_content=True, approve_personal=False
)


def marker() -> str:
    return f"QUOKKA{uuid.uuid4().hex[:12]}"


def turns(secret: str) -> list[str]:
    return [
        f"My name is Ana {secret}.",
        f"I live in Lisbon {secret}, email ana.{secret.lower()}@example.org",
        f"I like jazz {secret}.",
        f"Please note {secret} for later.",
        f"What do you know about {secret}?",
    ]


def notes(secret: str) -> list[str]:
    """Turns that teach no durable fact: nothing of them is copied to other threads."""
    return [f"Please keep note {n} about {secret} in this chat." for n in range(5)]


def talk(
    graph: Any, context: MemoryContext, thread: str, secret: str, texts: list[str] | None = None
) -> None:
    cfg = {"configurable": {"thread_id": thread}}
    for text in texts or turns(secret):
        result = graph.invoke({"messages": [HumanMessage(text)]}, cfg, context=context)
        assert "__interrupt__" not in result


async def atalk(
    graph: Any, context: MemoryContext, thread: str, secret: str, texts: list[str] | None = None
) -> None:
    cfg = {"configurable": {"thread_id": thread}}
    for text in texts or turns(secret):
        result = await graph.ainvoke({"messages": [HumanMessage(text)]}, cfg, context=context)
        assert "__interrupt__" not in result


def sqlite_bytes(path: Path) -> bytes:
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def postgres_rows(url: str) -> str:
    """Every row of every table in the database, as text (bytea as hex and as raw text)."""
    import psycopg

    dump: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        for table in tables:
            for (row,) in conn.execute(f'SELECT row_to_json(t)::text FROM "{table}" AS t'):
                dump.append(row)
            # bytea columns read raw, so msgpack blobs are searched as bytes too
            columns = conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = %s AND data_type = 'bytea'",
                (table,),
            ).fetchall()
            for (column,) in columns:
                for (blob,) in conn.execute(f'SELECT "{column}" FROM "{table}"'):
                    if blob is not None:
                        dump.append(bytes(blob).decode("utf-8", "replace"))
    return "\n".join(dump)


def redis_values(url: str) -> bytes:
    """Every key of the Redis database and everything each one holds, as bytes."""
    import redis

    dump: list[bytes] = []
    with redis.Redis.from_url(url.partition("?")[0]) as client:
        for key in client.scan_iter(count=1000):  # all keys, not only this test's prefix
            kind = client.type(key)
            dump.append(key)
            if kind == b"string":
                dump.append(client.get(key) or b"")
            elif kind == b"hash":
                dump += [part for pair in client.hgetall(key).items() for part in pair]
            elif kind == b"set":
                dump += list(client.smembers(key))
            elif kind == b"zset":
                dump += list(client.zrange(key, 0, -1))
            elif kind == b"list":
                dump += list(client.lrange(key, 0, -1))
    return b"\n".join(dump)


def present(storage: str | bytes, secret: str) -> bool:
    if isinstance(storage, bytes):
        return secret.encode() in storage or secret.lower().encode() in storage
    return secret in storage or secret.lower() in storage or secret.encode().hex() in storage


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def without_secure_delete(*opened: Any) -> None:
    """Behave like SQLite builds without SECURE_DELETE (this machine's has it on).

    With it on, SQLite zeroes deleted rows, and the test could not tell whether
    forget vacuumed; with it off, deleted rows stay in free pages and in the
    write-ahead log until VACUUM and a truncating checkpoint rewrite the files.
    """
    for obj in opened:
        conn = getattr(obj, "conn", None)
        if isinstance(conn, sqlite3.Connection):
            conn.execute("PRAGMA secure_delete = OFF")


def people(tenant: str) -> dict[str, MemoryContext]:
    return {
        "ana": MemoryContext(tenant_id=tenant, user_id="ana"),
        "bob": MemoryContext(tenant_id=tenant, user_id="bob"),
    }


def storage(url: str, path: Path | None) -> str | bytes:
    if url.startswith("redis"):
        return redis_values(url)
    return sqlite_bytes(path) if path is not None else postgres_rows(url)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def durable_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path | None]:
    if request.param == "sqlite":
        path = tmp_path / "memory.db"
        return f"sqlite:///{path}", path
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url, None


@pytest.mark.parametrize("scope", ["thread", "user", "tenant"])
def test_forget_leaves_no_trace_in_the_database(
    durable_url: tuple[str, Path | None], stack: ExitStack, scope: str
) -> None:
    url, path = durable_url
    checkpointer = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    without_secure_delete(checkpointer, store)
    graph = create_memory_graph(
        RecordingChatModel(), checkpointer=checkpointer, store=store, config=CONFIG
    )
    tenant, other_tenant = f"t{uuid.uuid4().hex[:8]}", f"o{uuid.uuid4().hex[:8]}"
    subject = {"thread": marker(), "user": marker(), "tenant": marker()}
    kept = marker()  # another tenant's, with the same user name
    ana, bob = people(tenant)["ana"], people(tenant)["bob"]
    carol = MemoryContext(tenant_id=other_tenant, user_id="ana")
    plan = [
        (ana, f"a1-{tenant}", subject["thread"]),
        (ana, f"a2-{tenant}", subject["user"]),
        (bob, f"b1-{tenant}", subject["tenant"]),
        (carol, f"c1-{tenant}", kept),
    ]
    for context, thread, secret in plan:
        # A durable fact learned in one thread is packed into the user's other
        # threads, and those copies go with the user, not with the thread (see
        # test_forget_thread_removes_the_facts_it_taught): the thread to forget
        # here teaches none.
        only_notes = scope == "thread" and secret == subject["thread"]
        talk(graph, context, thread, secret, notes(secret) if only_notes else None)
    before = storage(url, path)
    assert all(present(before, secret) for _, _, secret in plan)

    if scope == "thread":
        report = forget_thread(checkpointer, f"a1-{tenant}", store=store)
        gone, remaining = [subject["thread"]], [subject["user"], subject["tenant"]]
        assert report.threads == [f"a1-{tenant}"]
    elif scope == "user":
        report = forget_user(checkpointer, store, tenant, "ana")
        gone, remaining = [subject["thread"], subject["user"]], [subject["tenant"]]
        assert report.threads == sorted([f"a1-{tenant}", f"a2-{tenant}"])
    else:
        report = forget_tenant(checkpointer, store, tenant)
        gone, remaining = list(subject.values()), []
        assert report.threads == sorted([f"a1-{tenant}", f"a2-{tenant}", f"b1-{tenant}"])
    assert report.store_items == {"thread": 18, "user": 42, "tenant": 64}[scope]
    if path is not None:
        assert report.vacuumed == [str(path)]

    after = storage(url, path)
    for secret in gone:
        assert not present(after, secret), f"{secret} is still in the database after forget"
    for secret in [*remaining, kept]:
        assert present(after, secret), f"{secret} was deleted, but it was not forgotten"
    threads = list_threads(checkpointer)
    assert f"c1-{tenant}" in threads
    assert not {thread for _, thread, secret in plan if secret in gone} & set(threads)
    if scope != "tenant":
        assert read_audit(store, tenant, "bob"), "bob's audit trail must survive"


async def test_async_twins_forget_from_the_bytes_too(tmp_path: Path) -> None:
    path = tmp_path / "async.db"
    url = f"sqlite:///{path}"
    tenant = f"t{uuid.uuid4().hex[:8]}"
    secrets = {"thread": marker(), "user": marker(), "tenant": marker(), "kept": marker()}
    async with aopen_checkpointer(url) as checkpointer, aopen_store(url) as store:
        for opened in (checkpointer, store):  # as without_secure_delete, for aiosqlite
            await opened.conn.execute("PRAGMA secure_delete = OFF")  # type: ignore[attr-defined]
        graph = create_memory_graph(
            RecordingChatModel(), checkpointer=checkpointer, store=store, config=CONFIG
        )
        ana, bob = people(tenant)["ana"], people(tenant)["bob"]
        other = MemoryContext(tenant_id=f"x{tenant}", user_id="zed")
        await atalk(graph, ana, "a1", secrets["thread"], notes(secrets["thread"]))
        await atalk(graph, ana, "a2", secrets["user"])
        await atalk(graph, bob, "b1", secrets["tenant"])
        await atalk(graph, other, "z1", secrets["kept"])
        await aforget_thread(checkpointer, "a1", store=store)
        assert not present(sqlite_bytes(path), secrets["thread"])
        assert present(sqlite_bytes(path), secrets["user"])
        await aforget_user(checkpointer, store, tenant, "ana")
        assert not present(sqlite_bytes(path), secrets["user"])
        assert present(sqlite_bytes(path), secrets["tenant"])
        report = await aforget_tenant(checkpointer, store, tenant)
        assert report.threads == ["b1"] and report.vacuumed == [str(path)]
    data = sqlite_bytes(path)
    assert not any(
        present(data, s) for s in (secrets["thread"], secrets["user"], secrets["tenant"])
    )
    assert present(data, secrets["kept"])


def test_a_thread_is_owned_from_its_first_write_even_if_its_first_turn_fails(
    tmp_path: Path, stack: ExitStack
) -> None:
    class Failing:
        def extract(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("extractor down")

        async def aextract(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("extractor down")

    url = f"sqlite:///{tmp_path / 'owned.db'}"
    checkpointer = stack.enter_context(open_checkpointer(url))
    store = stack.enter_context(open_store(url))
    graph = create_memory_graph(checkpointer=checkpointer, store=store, extractor=Failing())
    secret = marker()
    with pytest.raises(RuntimeError, match="extractor down"):
        graph.invoke(
            {"messages": [HumanMessage(f"hello {secret}")]},
            {"configurable": {"thread_id": "first"}},
            context=MemoryContext(tenant_id="acme", user_id="ana"),
        )
    assert "first" in list_threads(checkpointer)  # LangGraph saved the input
    assert owned_threads(store, "acme", "ana") == [("ana", "first")]
    forget_user(checkpointer, store, "acme", "ana")
    assert not present(sqlite_bytes(tmp_path / "owned.db"), secret)


def test_the_cli_forgets_a_thread_a_user_and_a_tenant(tmp_path: Path) -> None:
    path = tmp_path / "cli.db"
    secrets = {"thread": marker(), "user": marker(), "tenant": marker(), "kept": marker()}
    with (
        open_checkpointer(f"sqlite:///{path}") as checkpointer,
        open_store(f"sqlite:///{path}") as store,
    ):
        graph = create_memory_graph(
            RecordingChatModel(), checkpointer=checkpointer, store=store, config=CONFIG
        )
        talk(graph, people("acme")["ana"], "a1", secrets["thread"], notes(secrets["thread"]))
        talk(graph, people("acme")["ana"], "a2", secrets["user"])
        talk(graph, people("acme")["bob"], "b1", secrets["tenant"])
        talk(graph, people("other")["ana"], "o1", secrets["kept"])
    assert main(["forget", "--thread", "a1", "--db", str(path)]) == EXIT_OK
    assert not present(sqlite_bytes(path), secrets["thread"])
    assert present(sqlite_bytes(path), secrets["user"])
    assert main(["forget", "--tenant", "acme", "--user", "ana", "--db", str(path)]) == EXIT_OK
    assert not present(sqlite_bytes(path), secrets["user"])
    assert present(sqlite_bytes(path), secrets["tenant"])
    assert main(["forget", "--tenant", "acme", "--db", str(path)]) == EXIT_OK
    data = sqlite_bytes(path)
    assert not present(data, secrets["tenant"]) and present(data, secrets["kept"])
    with pytest.raises(SystemExit) as usage:
        main(["forget", "--db", str(path)])
    assert usage.value.code == 2


def test_forgetting_a_thread_someone_else_owns_needs_no_guess(stack: ExitStack) -> None:
    """Without a package to read the owner from, forget_thread asks instead of guessing."""
    from memorygraph.errors import IdentityError

    checkpointer = stack.enter_context(open_checkpointer("memory"))
    store = stack.enter_context(open_store("memory"))
    with pytest.raises(IdentityError, match="pass tenant_id= and user_id="):
        forget_thread(checkpointer, "never-ran", store=store)
    report = forget_thread(checkpointer, "never-ran", store=store, tenant_id="a", user_id="b")
    assert report.store_items == 0


def test_forget_is_safe_to_repeat(stack: ExitStack) -> None:
    checkpointer = stack.enter_context(open_checkpointer("memory"))
    store = stack.enter_context(open_store("memory"))
    graph = create_memory_graph(
        RecordingChatModel(), checkpointer=checkpointer, store=store, config=CONFIG
    )
    talk(graph, people("acme")["ana"], "a1", marker())
    first = forget_user(checkpointer, store, "acme", "ana")
    second = forget_user(checkpointer, store, "acme", "ana")
    assert first.threads == ["a1"] and first.store_items == 22
    assert second.threads == [] and second.store_items == 0
    assert asyncio.run(aforget_user(checkpointer, store, "acme", "ana")).store_items == 0


def test_forget_thread_removes_the_facts_it_taught(stack: ExitStack) -> None:
    checkpointer = stack.enter_context(open_checkpointer("memory"))
    store = stack.enter_context(open_store("memory"))
    graph = create_memory_graph(
        RecordingChatModel(), checkpointer=checkpointer, store=store, config=CONFIG
    )
    ana = people("acme")["ana"]
    taught, kept = marker(), marker()
    talk(graph, ana, "a1", taught)
    talk(graph, ana, "a2", kept, [f"I like tea {kept}."])
    before = [f.value for f in load_facts(store, "acme", "ana")]
    assert any(taught in v for v in before) and any(kept in v for v in before)
    forget_thread(checkpointer, "a1", store=store)
    after = [f.value for f in load_facts(store, "acme", "ana")]
    assert not any(taught in v for v in after)
    assert any(kept in v for v in after)
    # What thread a2 already packed from a1's facts stays in a2's own state and
    # audit trail until a2 or the user is forgotten: a documented limit.


def test_forget_thread_keeps_facts_learned_in_threads_that_reuse_its_message_ids(
    backend_url: str, stack: ExitStack
) -> None:
    """Message ids are the caller's: two threads may use the same ones."""
    checkpointer = stack.enter_context(open_checkpointer(backend_url))
    store = stack.enter_context(open_store(backend_url))
    graph = create_memory_graph(
        RecordingChatModel(), checkpointer=checkpointer, store=store, config=CONFIG
    )
    tenant = f"acme{uuid.uuid4().hex[:8]}"
    ana = MemoryContext(tenant_id=tenant, user_id="ana")
    one, two = f"t1-{uuid.uuid4()}", f"t2-{uuid.uuid4()}"
    for thread, drink in ((one, "tea"), (two, "coffee")):
        cfg = {"configurable": {"thread_id": thread}}
        graph.invoke({"messages": [HumanMessage(f"I like {drink}.", id="m1")]}, cfg, context=ana)
    before = {f.value for f in load_facts(store, tenant, "ana")}
    assert {"tea", "coffee"} <= before
    forget_thread(checkpointer, one, store=store)
    after = {f.value for f in load_facts(store, tenant, "ana")}
    assert "tea" not in after
    assert "coffee" in after


FORGET = {
    "thread": (forget_thread, aforget_thread),
    "user": (forget_user, aforget_user),
    "tenant": (forget_tenant, aforget_tenant),
}


def _same_ids_model() -> tuple[RecordingChatModel, dict[str, int]]:
    """Replies numbered from 1 (set ``said["n"] = 0`` to start again): reused message ids."""
    said = {"n": 0}

    def respond(messages: Any) -> AIMessage:
        said["n"] += 1
        return AIMessage("ok", id=f"r{said['n']}")

    return RecordingChatModel(respond=respond), said


async def _numbered(
    graph: Any, said: dict[str, int], context: MemoryContext, texts: list[str]
) -> Any:
    """A conversation on thread t1 whose messages are h0, h1, ... and r1, r2, ...: reused ids."""
    said["n"] = 0
    cfg = {"configurable": {"thread_id": "t1"}}
    for i, text in enumerate(texts):
        result = await graph.ainvoke(
            {"messages": [HumanMessage(text, id=f"h{i}")]}, cfg, context=context
        )
    return result


# A new conversation on the thread after the forget: it folds turns that
# recall can bring back, none of them the forgotten ones.
AFTER = [f"The locker code changed again on day {i}." for i in range(6)]
AFTER.append("What is my locker code?")


def _recalls_nothing_of(result: Any, secret: str) -> None:
    package = result["context_package"]
    recalled = [item.content for item in package.items if item.kind == "recalled"]
    assert recalled, "the new conversation folded turns: recall has something to bring back"
    assert not present(str(package.to_messages()), secret)


def _forget_args(scope: str, checkpointer: Any, store: Any, tenant: str) -> tuple[Any, ...]:
    if scope == "thread":
        return (checkpointer, "t1")
    if scope == "user":
        return (checkpointer, store, tenant, "ana")
    return (checkpointer, store, tenant)


@pytest.mark.parametrize("run", ["sync", "async"])
@pytest.mark.parametrize("scope", sorted(FORGET))
async def test_a_new_conversation_that_reuses_the_ids_recalls_nothing_forgotten(
    tmp_path: Path, scope: str, run: str
) -> None:
    """The process's copy of the archive goes with it (it matched turns by id alone)."""
    tenant, secret = f"t{uuid.uuid4().hex[:8]}", marker()
    ana = MemoryContext(tenant_id=tenant, user_id="ana")
    model, said = _same_ids_model()
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    async with aopen_checkpointer(url) as checkpointer, aopen_store(url) as store:
        graph = create_memory_graph(model, checkpointer=checkpointer, store=store, config=CONFIG)
        await _numbered(graph, said, ana, [f"My locker code is {secret}{i}." for i in range(6)])
        assert transcript_cache().held(store) == [(tenant, "ana", "t1")]
        sync, asynchronous = FORGET[scope]
        args = _forget_args(scope, checkpointer, store, tenant)
        kwargs = {"store": store} if scope == "thread" else {}
        if run == "sync":
            await asyncio.to_thread(sync, *args, **kwargs)
        else:
            await asynchronous(*args, **kwargs)
        assert transcript_cache().held(store) == []  # not kept in this process's memory either
        result = await _numbered(graph, said, ana, AFTER)
    _recalls_nothing_of(result, secret)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_forget_reads_your_own_saver_as_the_graph_does(tmp_path: Path, kind: str) -> None:
    """The saver you built and gave the graph is the one you give forget.

    The graph compiles with a copy that accepts memorygraph's records; forget
    reads the thread's package (its owner) through such a copy too, so
    LangGraph's permissive serializer has no "unregistered type" to report
    (it would log one warning per record type, and LANGGRAPH_STRICT_MSGPACK
    would block them).
    """
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.serde.event_hooks import register_serde_event_listener
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.store.memory import InMemoryStore

    unregistered: list[str] = []
    with ExitStack() as opened:
        if kind == "memory":
            saver: Any = InMemorySaver()
        else:
            conn = opened.enter_context(
                sqlite3.connect(tmp_path / "own.db", check_same_thread=False)
            )
            saver = SqliteSaver(conn)
        store = InMemoryStore()
        graph = create_memory_graph(RecordingChatModel(), checkpointer=saver, store=store)
        ana = people("acme")["ana"]
        for thread in ("t1", "t2", "t3"):
            talk(graph, ana, thread, marker(), ["hello"])
        opened.callback(
            register_serde_event_listener(
                lambda event: (
                    unregistered.append(f"{event['module']}.{event['name']}")
                    if event["kind"] == "msgpack_unregistered_allowed"
                    else None
                )
            )
        )
        assert forget_thread(saver, "t1", store=store).store_items > 0  # owner read off its package
        assert (await aforget_thread(saver, "t2", store=store)).store_items > 0
        assert forget_user(saver, store, "acme", "ana").threads == ["t3"]
    assert unregistered == []


async def test_a_forget_in_another_process_is_not_undone_by_this_ones_copy(
    tmp_path: Path,
) -> None:
    """The CLI forgets while the app runs: the app's copy no longer matches the new state.

    The copy is checked against the summary's digest of the archived turns, not
    only against the last folded turn's id, which the new conversation reuses.
    """
    import subprocess
    import sys

    path = tmp_path / "memory.db"
    url, secret = f"sqlite:///{path}", marker()
    ana = MemoryContext(tenant_id="acme", user_id="ana")
    model, said = _same_ids_model()
    async with aopen_checkpointer(url) as checkpointer, aopen_store(url) as store:
        graph = create_memory_graph(model, checkpointer=checkpointer, store=store, config=CONFIG)
        texts = [f"My locker code is {secret}{i}." for i in range(6)]
        first = await _numbered(graph, said, ana, texts)
        assert first["summary"].archive_digest is not None
        forgot = subprocess.run(
            [
                sys.executable,
                "-m",
                "memorygraph.cli",
                "forget",
                "--thread",
                "t1",
                "--db",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert forgot.returncode == EXIT_OK, forgot.stderr
        result = await _numbered(graph, said, ana, AFTER)
    _recalls_nothing_of(result, secret)
