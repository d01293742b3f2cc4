"""A process killed with SIGKILL mid-turn loses nothing and repeats nothing when resumed.

A worker (`tests.workers`) runs a few turns on SQLite, PostgreSQL or Redis and, on
one turn, stops dead at a chosen point: right after the checkpoint that
follows extract_facts, summarize or pack_context is saved ("between nodes"),
inside summarize just after a folded turn was written to the archive, inside
the model call, or inside the approve node just after the approved fact was
written. The test kills it with SIGKILL, then resumes the thread in this
process the way LangGraph resumes a run that did not finish:
``graph.invoke(None, cfg)`` continues from the last saved checkpoint, with the
writes of the tasks that had finished (and a resume value already given).
Re-sending the turn instead would start a new run, and a message sent without
an id would then be stored twice.

Afterwards: every turn is in the transcript (archive plus window) exactly
once, in order, each reply on its own request; the model was called once for
the interrupted turn; the audit trail has one record per package; an approved
fact was written once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from langgraph.types import Command

from memorygraph import MemoryContext
from memorygraph.store.audit import read_audit
from memorygraph.store.facts import load_facts
from tests.workers import (
    SMALL,
    echo_model,
    expected,
    open_memory_graph,
    request_text,
    run_turns,
    transcript,
)

ROOT = Path(__file__).resolve().parents[3]
TURNS = 5
CRASH_TURN = 3
KILL_TIMEOUT = 180.0
CRASHES = [
    # (point, durability): "after:N" with durability="sync" is exactly between two
    # nodes; with LangGraph's default "async" the next node may already have run.
    ("after:1", "sync"),
    ("after:2", "sync"),
    ("after:3", "async"),
    ("archive", "async"),  # inside summarize, after the first archive write
    ("model", "async"),
]
APPROVAL_SCRIPT = (
    "import sys\n"
    "from contextlib import ExitStack\n"
    "from langgraph.types import Command\n"
    "from memorygraph import MemoryContext\n"
    "from tests.workers import SMALL, _arm_facts, echo_model, open_memory_graph\n"
    "url, tenant, thread, candidate, marker = sys.argv[1:6]\n"
    "with ExitStack() as stack:\n"
    "    graph = open_memory_graph(stack, url, echo_model(), **SMALL)\n"
    "    _arm_facts(graph.store, marker)\n"
    "    graph.invoke(Command(resume={'approve': [candidate]}),\n"
    "                 {'configurable': {'thread_id': thread}},\n"
    "                 context=MemoryContext(tenant_id=tenant, user_id='ana'))\n"
)


@dataclass
class Crash:
    """One worker, killed: where its thread lives and where it was stopped."""

    url: str
    tenant: str
    thread: str
    point: str
    durability: str
    process: subprocess.Popen[bytes]
    marker: Path
    candidate: str = ""


def _launch(url: str, point: str, durability: str, folder: Path) -> Crash:
    tenant, thread = f"acme{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    marker = folder / f"stuck-{uuid.uuid4().hex[:8]}"
    args = {
        "url": url,
        "tenant": tenant,
        "user": "ana",
        "threads": [thread],
        "start": 0,
        "stop": TURNS,
        "crash": {"thread": thread, "turn": CRASH_TURN, "at": point},
        "marker": str(marker),
        "durability": durability,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.workers", json.dumps(args)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Crash(url, tenant, thread, point, durability, process, marker)


def _launch_approval(url: str, folder: Path) -> Crash:
    tenant, thread = f"acme{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    context = MemoryContext(tenant_id=tenant, user_id="ana")
    with ExitStack() as stack:
        graph = open_memory_graph(stack, url, echo_model(), **SMALL)
        result = graph.invoke(
            {"messages": [("user", "I'm allergic to peanuts.")]},
            {"configurable": {"thread_id": thread}},
            context=context,
        )
        (candidate,) = result["__interrupt__"][0].value["candidates"]
    marker = folder / f"stuck-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [sys.executable, "-c", APPROVAL_SCRIPT, url, tenant, thread, candidate["id"], str(marker)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Crash(url, tenant, thread, "facts", "async", process, marker, candidate["id"])


def _kill_when_stuck(crashes: list[Crash]) -> None:
    deadline = time.monotonic() + KILL_TIMEOUT
    waiting = list(crashes)
    while waiting:
        for crash in list(waiting):
            if crash.marker.exists():
                os.kill(crash.process.pid, signal.SIGKILL)
                assert crash.process.wait(timeout=30) == -signal.SIGKILL
                assert crash.marker.read_text() == crash.point
                waiting.remove(crash)
            elif crash.process.poll() is not None:
                error = crash.process.stderr.read().decode() if crash.process.stderr else ""
                raise AssertionError(f"a worker ended before {crash.point}: {error[-2000:]}")
        if time.monotonic() > deadline:
            for crash in waiting:
                crash.process.kill()
            raise AssertionError(f"workers never reached {[c.point for c in waiting]}")
        time.sleep(0.05)


def _backends(request: pytest.FixtureRequest, folder: Path) -> dict[str, Callable[[], str]]:
    backends: dict[str, Callable[[], str]] = {
        "sqlite": lambda: f"sqlite:///{folder / uuid.uuid4().hex[:8]}.db"
    }
    try:
        postgres: str = request.getfixturevalue("postgres_url")
    except pytest.skip.Exception:
        pass
    else:
        backends["postgres"] = lambda: postgres
    try:
        redis_server: str = request.getfixturevalue("_redis_server")
    except pytest.skip.Exception:
        pass
    else:
        prefix = f"mgtest-crash-{uuid.uuid4().hex[:8]}"
        backends["redis"] = lambda: f"{redis_server}?prefix={prefix}"
        request.addfinalizer(lambda: _drop_redis_keys(redis_server, prefix))
    return backends


def _drop_redis_keys(url: str, prefix: str) -> None:
    import redis

    with redis.Redis.from_url(url) as client:
        doomed = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(doomed), 500):
            client.delete(*doomed[start : start + 500])


@pytest.fixture(scope="module")
def crashes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Crash]:
    """Every worker of this module, started at once and killed where it stops.

    Starting them together costs one process start-up instead of ten.
    """
    folder = tmp_path_factory.mktemp("crash")
    started: dict[str, Crash] = {}
    try:
        for backend, url in _backends(request, folder).items():
            started[f"{backend}-approval"] = _launch_approval(url(), folder)
            for point, durability in CRASHES:
                crash = _launch(url(), point, durability, folder)
                started[f"{backend}-{point}-{durability}"] = crash
        _kill_when_stuck(list(started.values()))
    finally:  # whatever happened, no worker outlives the fixture
        for crash in started.values():
            if crash.process.poll() is None:
                crash.process.kill()
            crash.process.communicate()
    return started


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")  # skips (or fails in CI) without a server
    if request.param == "redis":
        request.getfixturevalue("_redis_server")
    return str(request.param)


@pytest.mark.slow
@pytest.mark.parametrize(("point", "durability"), CRASHES, ids=[f"{p}-{d}" for p, d in CRASHES])
def test_a_turn_killed_mid_run_resumes_without_loss_or_duplicates(
    crashes: dict[str, Crash], backend: str, point: str, durability: str
) -> None:
    crash = crashes[f"{backend}-{point}-{durability}"]
    url, tenant, thread = crash.url, crash.tenant, crash.thread
    model = echo_model()
    context = MemoryContext(tenant_id=tenant, user_id="ana")
    cfg = {"configurable": {"thread_id": thread}}
    with ExitStack() as stack:
        graph = open_memory_graph(stack, url, model, **SMALL)
        state = graph.get_state(cfg)
        assert state.tasks, "the killed turn should be unfinished"
        # Its request was saved (get_state shows finished tasks' writes applied).
        saved = [m.content for m in state.values["messages"]]
        assert request_text(thread, CRASH_TURN) in saved
        if durability == "sync":  # exactly between two nodes: nothing of the next one
            assert state.next and not any(task.result for task in state.tasks)
        graph.invoke(None, cfg, context=context)  # resume the run that did not finish
        # The model answers the interrupted turn once here, unless the killed
        # process's answer was already saved as a pending write (async only).
        if durability == "sync" or point in ("model", "archive"):
            assert len(model.calls) == 1
        assert len(model.calls) <= 1
        for call in model.calls:
            assert str(call[-1].content) == request_text(thread, CRASH_TURN)
        assert transcript(graph, tenant, "ana", thread) == expected(thread, CRASH_TURN + 1)

    # The rest of the conversation, as a client carries on.
    run_turns(url, tenant=tenant, user="ana", threads=[thread], start=CRASH_TURN + 1, stop=TURNS)
    with ExitStack() as stack:
        graph = open_memory_graph(stack, url, echo_model(), **SMALL)
        assert transcript(graph, tenant, "ana", thread) == expected(thread, TURNS)
        assert graph.store is not None
        records = read_audit(graph.store, tenant, "ana", thread_id=thread)
    package_ids = [record.package_id for record in records]
    assert len(package_ids) == len(set(package_ids)), "an audit record was written twice"
    # One package per turn; a killed turn whose package was rebuilt on resume
    # (its checkpoint had not been saved yet) may log one more.
    assert TURNS <= len(package_ids) <= TURNS + 1


@pytest.mark.slow
def test_an_approval_killed_after_its_write_is_not_written_twice(
    crashes: dict[str, Crash], backend: str
) -> None:
    crash = crashes[f"{backend}-approval"]
    tenant = crash.tenant
    context = MemoryContext(tenant_id=tenant, user_id="ana")
    cfg = {"configurable": {"thread_id": crash.thread}}
    with ExitStack() as stack:
        graph = open_memory_graph(stack, crash.url, echo_model(), **SMALL)
        assert graph.store is not None
        (fact,) = load_facts(graph.store, tenant, "ana")
        (item,) = graph.store.search(("memorygraph", tenant, "ana", "facts"))
        assert graph.get_state(cfg).next == ("approve",)  # the checkpoint did not move on
        graph.invoke(None, cfg, context=context)  # LangGraph kept the resume value
        state = graph.get_state(cfg)
        assert state.next == () and state.values["pending"] == []
        (again,) = graph.store.search(("memorygraph", tenant, "ana", "facts"))
        assert again.updated_at == item.updated_at, "the approved fact was written twice"
        assert again.value == item.value and fact.value == "peanuts"
        # Answering the question again, as a client that is not sure, changes nothing:
        # LangGraph ignores a resume value when no interrupt is waiting.
        before = graph.get_state(cfg).values
        graph.invoke(Command(resume={"approve": [crash.candidate]}), cfg, context=context)
        assert graph.get_state(cfg).values == before
        (last,) = graph.store.search(("memorygraph", tenant, "ana", "facts"))
        assert last.updated_at == item.updated_at
