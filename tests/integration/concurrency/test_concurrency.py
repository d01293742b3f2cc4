"""Many processes at once: no turn lost or crossed, every archive complete.

PostgreSQL: 8 worker processes, each running 50 threads turn by turn (all 400
threads in flight at once), 8 turns each by default. SQLite: 2 processes on
one file. Redis: 2 processes x 5 threads x 10 turns. The window is small
(`tests.workers.SMALL`), so every thread folds turns into its archive many
times. Afterwards every thread's whole transcript, archive then window, is
exactly its own requests, each followed by the reply to it, and the audit
trail has one record per turn.

Then two writers on the same thread, at once. Left to LangGraph, the later
run's checkpoint wins and the other's turn is lost, and on PostgreSQL the two
runs' channel blobs collide and a prune can leave the thread unreadable (seen
here before the fix: `CorruptStateError`). `MemoryGraph` holds a lock on the
thread for each run (`memorygraph.graph._lock`: an advisory lock on
PostgreSQL, a record lock next to the SQLite file, a lease on Redis), so the
writers take turns:
the state loads, its bookkeeping holds, every turn of both writers is there
once, in each writer's order, each request followed by its own reply.

The scale is ``MEMORYGRAPH_CONCURRENCY=<processes>x<threads>x<turns>``: the
suite's default, ``8x50x8``, keeps the 8 processes and the 400 threads live at
once, and every thread folds its window twice (the test checks that each one
did, as many times as the others); ``8x50x20`` is the full run of 8,000 turns,
``8x50x4`` a quicker check while developing.
Times are in tests/README.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from memorygraph import MemoryContext
from memorygraph.errors import ThreadBusyError
from memorygraph.graph._lock import thread_lock
from memorygraph.store.audit import read_audit
from tests.workers import (
    SMALL,
    echo_model,
    expected,
    open_memory_graph,
    reply_text,
    request_text,
    transcript,
)

ROOT = Path(__file__).resolve().parents[3]
# 8 x 50 x 20 (8,000 turns) is the full run; it takes minutes on two cores, so the
# suite's default keeps the 8 processes and 400 live threads with fewer turns.
SCALE = os.environ.get("MEMORYGRAPH_CONCURRENCY", "8x50x8")
PROCESSES, THREADS, TURNS = (int(part) for part in SCALE.split("x"))


def run_workers(jobs: list[dict[str, Any]], timeout: float = 1800) -> list[dict[str, Any]]:
    """Start one worker per job, all at once; wait for all; return their reports."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.workers", json.dumps(job)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for job in jobs
    ]
    reports = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            assert process.returncode == 0, err.decode()[-3000:]
            reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    finally:  # a failure must not leave workers running into the next test
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate()
    return reports


def check_threads(url: str, tenant: str, owners: dict[str, str], turns: int) -> int:
    """Every thread holds exactly its own turns, in order; returns the audit records seen."""
    records = 0
    folds: set[int] = set()
    with ExitStack() as stack:
        graph = open_memory_graph(stack, url, echo_model(), **SMALL)
        assert graph.store is not None
        for thread, user in owners.items():
            assert transcript(graph, tenant, user, thread) == expected(thread, turns), thread
            audit = read_audit(graph.store, tenant, user, thread_id=thread)
            assert len(audit) == turns and len({r.package_id for r in audit}) == turns
            records += len(audit)
            summary = graph.get_state({"configurable": {"thread_id": thread}}).values["summary"]
            folds.add(summary.version)
    # Every thread folded its window as often as every other (the window decides, not
    # the interleaving), and at least twice once it has 8 turns.
    assert len(folds) == 1, folds
    if turns >= 8:
        assert folds.pop() >= 2
    return records


def _jobs(url: str, tenant: str, processes: int, threads: int, turns: int) -> list[dict[str, Any]]:
    return [
        {
            "url": url,
            "tenant": tenant,
            "user": f"u{p}",
            "threads": [f"{tenant}-p{p}-t{t}" for t in range(threads)],
            "start": 0,
            "stop": turns,
        }
        for p in range(processes)
    ]


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_processes_on_postgres(postgres_url: str) -> None:
    tenant = f"conc{uuid.uuid4().hex[:8]}"
    jobs = _jobs(postgres_url, tenant, PROCESSES, THREADS, TURNS)
    began = time.perf_counter()
    reports = run_workers(jobs)
    elapsed = time.perf_counter() - began
    owners = {thread: job["user"] for job in jobs for thread in job["threads"]}
    records = check_threads(postgres_url, tenant, owners, TURNS)
    turns = sum(report["turns"] for report in reports)
    assert turns == PROCESSES * THREADS * TURNS == records
    slowest = max(report["seconds"] for report in reports)
    print(
        f"\npostgres: {PROCESSES} processes x {THREADS} threads x {TURNS} turns = {turns} turns "
        f"in {elapsed:.1f}s ({slowest:.1f}s in the slowest worker's loop), "
        f"{turns / elapsed:.0f} turns/s; all {len(owners)} transcripts exact"
    )


@pytest.mark.slow
def test_two_processes_on_one_sqlite_file(sqlite_url: str) -> None:
    tenant = f"conc{uuid.uuid4().hex[:8]}"
    threads = max(1, THREADS // 5)
    jobs = _jobs(sqlite_url, tenant, 2, threads, TURNS)
    began = time.perf_counter()
    reports = run_workers(jobs)
    elapsed = time.perf_counter() - began
    owners = {thread: job["user"] for job in jobs for thread in job["threads"]}
    assert check_threads(sqlite_url, tenant, owners, TURNS) == 2 * threads * TURNS
    print(
        f"\nsqlite: 2 processes x {threads} threads x {TURNS} turns on one file "
        f"in {elapsed:.1f}s ({max(r['seconds'] for r in reports):.1f}s in the slowest loop)"
    )


@pytest.mark.slow
@pytest.mark.redis
def test_two_processes_on_redis(redis_url: str) -> None:
    # 2 processes x 5 threads x 10 turns, each turn under the thread's lease.
    tenant = f"conc{uuid.uuid4().hex[:8]}"
    jobs = _jobs(redis_url, tenant, 2, 5, 10)
    began = time.perf_counter()
    reports = run_workers(jobs)
    elapsed = time.perf_counter() - began
    owners = {thread: job["user"] for job in jobs for thread in job["threads"]}
    assert check_threads(redis_url, tenant, owners, 10) == 2 * 5 * 10
    assert sum(report["turns"] for report in reports) == 100
    print(
        f"\nredis: 2 processes x 5 threads x 10 turns in {elapsed:.1f}s "
        f"({max(r['seconds'] for r in reports):.1f}s in the slowest loop)"
    )


def _same_thread_jobs(url: str, tenant: str, thread: str, turns: int) -> list[dict[str, Any]]:
    return [
        {
            "url": url,
            "tenant": tenant,
            "user": "ana",
            "threads": [thread],
            "start": 0,
            "stop": turns,
            "writer": writer,
        }
        for writer in ("A", "B")
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind",
    [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ],
)
def test_two_writers_on_one_thread_never_corrupt_it(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(f"{kind}_url")
    tenant, thread = f"same{uuid.uuid4().hex[:8]}", f"shared-{uuid.uuid4().hex[:8]}"
    # On Redis a turn is quick enough that 15 per writer barely overlap: without the
    # lease, 60 lose turns (seen: the archive's bookkeeping no longer matches).
    turns = 60 if kind == "redis" else 15
    run_workers(_same_thread_jobs(url, tenant, thread, turns))
    with ExitStack() as stack:
        graph = open_memory_graph(stack, url, echo_model(), **SMALL)
        seen = transcript(graph, tenant, "ana", thread)  # loads, and its bookkeeping holds
    sent = {request_text(f"{thread}{w}", k) for w in "AB" for k in range(turns)}
    requests = [content for role, content in seen if role == "human"]
    assert set(requests) <= sent, "a message nobody sent is in the thread"
    assert len(requests) == len(set(requests)), "a turn is in the thread twice"
    replies = [content for role, content in seen if role == "ai"]
    assert len(replies) == len(set(replies)), "a reply is in the thread twice"
    for index, (role, content) in enumerate(seen):
        if role == "ai":  # every reply answers a request that came before it
            assert any(reply_text(r) == content for k, r in seen[:index] if k == "human")
    for writer in "AB":
        own = [r for r in requests if r.startswith(f"{thread}{writer} ")]
        assert own == sorted(own, key=lambda r: int(r.rsplit(" ", 1)[1])), "turns out of order"
    # The thread lock (graph/_lock.py) makes the writers take turns: nothing is lost.
    assert set(requests) == sent, f"lost turns: {sorted(sent - set(requests))}"
    for (role, content), (next_role, next_content) in zip(seen, seen[1:], strict=False):
        if role == "human":
            assert (next_role, next_content) == ("ai", reply_text(content))
    print(f"\n{kind}: two writers on one thread, {2 * turns} turns: all kept, in turn")


def test_threads_of_one_process_take_turns_on_a_thread() -> None:
    """The in-process half of the thread lock: 4 Python threads, 1 conversation."""
    with ExitStack() as stack:
        graph = open_memory_graph(stack, "memory", echo_model(), **SMALL)
        tenant, thread = "acme", "busy"
        context = MemoryContext(tenant_id=tenant, user_id="ana")

        def writer(name: str) -> None:
            for turn in range(5):
                text = request_text(f"{thread}{name}", turn)
                graph.invoke(
                    {"messages": [HumanMessage(text, id=f"{name}{turn}")]},
                    {"configurable": {"thread_id": thread}},
                    context=context,
                )

        workers = [threading.Thread(target=writer, args=(name,)) for name in "ABCD"]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        seen = transcript(graph, tenant, "ana", thread)
    requests = [content for role, content in seen if role == "human"]
    assert sorted(requests) == sorted(
        request_text(f"{thread}{n}", k) for n in "ABCD" for k in range(5)
    )
    for (role, content), (_, following) in zip(seen, seen[1:], strict=False):
        if role == "human":
            assert following == reply_text(content)


def test_a_run_that_waits_too_long_gets_a_clear_error(sqlite_url: str) -> None:
    with ExitStack() as stack:
        graph = open_memory_graph(stack, sqlite_url, echo_model(), **SMALL)
        with thread_lock(graph.checkpointer, "held"):
            with pytest.raises(ThreadBusyError, match="thread 'held' is being written by another"):
                with thread_lock(graph.checkpointer, "held", timeout=0.2):
                    pass  # pragma: no cover
            with thread_lock(graph.checkpointer, "other", timeout=0.2):
                pass  # another thread is not held up
