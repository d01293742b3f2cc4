"""Benchmark checkpoint growth and per-turn time: memorygraph against a plain graph and langmem.

Usage: python benchmarks/bench_growth.py [--turns 250,500,1000]
           [--backends sqlite,postgres,redis]
           [--timing 50,2000] [--langmem-turns 500] [--postgres-vacuum-every N]
           [--json OUT] [--quick]

Every turn is one ~200-character human message. The chat model is a fake that
answers a fixed ~200-character reply at once and counts, with memorygraph's
`TokenCounter`, the prompt tokens it was sent. Measured in one run:

1. Checkpoint bytes after each of ``--turns`` turns of one thread, for the
   memorygraph graph (`create_memory_graph` with the default `MemoryConfig`)
   and for a baseline: a plain four-node graph whose nodes each append a
   ~50-character message through `add_messages`. SQLite: the size of the
   checkpoint file after ``PRAGMA wal_checkpoint(TRUNCATE)`` (the store is a
   file of its own, reported apart). PostgreSQL: ``pg_total_relation_size`` of
   the checkpoint tables and of the store tables, in a fresh database per
   graph, dropped at the end (``--postgres-vacuum-every N`` runs ``VACUUM``
   every N turns, for a server whose autovacuum is off). Redis: the sum of
   ``MEMORY USAGE <key> SAMPLES 0`` (the key's bytes in the server's RAM, every
   element counted) over the thread's keys, and over the store's keys, under
   a prefix of the run's own, deleted at the end; memorygraph only, since the
   baseline's quadratic history would take gigabytes of the server's memory.
   Then the ratio memorygraph / baseline at each size, and each graph's
   growth exponent (the slope of a log-log fit); and memorygraph's time per
   turn on every backend, over the same turns.
2. Time per turn of the memorygraph graph on SQLite at two points of one
   thread (``--timing``), each the median of a window of turns around it.
3. The same workload through langmem's `SummarizationNode` (as its docs wire
   it, with ``max_tokens`` set to memorygraph's available tokens), on SQLite:
   time per turn and prompt tokens per model call, as ratios against
   memorygraph over the same turns.

Results go to stdout and, with --json, to a file. ``--quick`` runs small sizes
on SQLite in well under a minute, as a smoke test.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.store.base import BaseStore
from pydantic import Field
from typing_extensions import TypedDict

from memorygraph import MemoryConfig, MemoryContext, TokenCounter, create_memory_graph
from memorygraph.checkpointers import open_checkpointer, open_store, register_types

REPLY_CHARS = 200
HUMAN_CHARS = 200
NOTE_CHARS = 50
CONTEXT = MemoryContext(tenant_id="bench", user_id="user")
POSTGRES_URL_ENV = "MEMORYGRAPH_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL_ENV = "MEMORYGRAPH_BENCH_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CHECKPOINT_TABLES = (
    "checkpoints",
    "checkpoint_blobs",
    "checkpoint_writes",
    "checkpoint_migrations",
)
STORE_TABLES = ("store", "store_migrations", "store_vectors", "vector_migrations")

TARGET_RATIO = 0.02
TARGET_EXPONENT = 1.1
TARGET_TIME_RATIO = 1.3

_WORDS = [
    "".join(random.Random(i).choices("abcdefghijklmnopqrstuvwxyz", k=1 + i % 9))
    for i in range(2_000)
]


def text_of(seed: int, chars: int) -> str:
    """Deterministic English-like text of exactly ``chars`` characters."""
    rng = random.Random(seed)
    words: list[str] = []
    while sum(len(word) + 1 for word in words) < chars:
        words.append(rng.choice(_WORDS))
    return " ".join(words)[:chars]


REPLY = text_of(-1, REPLY_CHARS)

# --- the fake chat model ---

_COUNTER: TokenCounter | None = None


def counter() -> TokenCounter:
    global _COUNTER
    if _COUNTER is None:
        _COUNTER = TokenCounter()
    return _COUNTER


class FixedReplyModel(BaseChatModel):
    """Answers a fixed reply at once, and counts the prompt tokens of each call."""

    reply: str = REPLY
    prompt_tokens: list[int] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "fixed-reply-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.prompt_tokens.append(counter().count_messages(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self.reply))])


# --- the graphs under test ---


@dataclass
class Subject:
    """A graph, ready to run turns on one thread."""

    name: str
    run_turn: Callable[[int], object]
    models: dict[str, FixedReplyModel] = field(default_factory=dict)


def memorygraph_subject(saver: BaseCheckpointSaver[Any], store: BaseStore | None) -> Subject:
    model = FixedReplyModel()
    graph = create_memory_graph(model, checkpointer=saver, store=store)
    cfg = {"configurable": {"thread_id": "bench"}}

    def run_turn(turn: int) -> object:
        return graph.invoke(
            {"messages": [HumanMessage(text_of(turn, HUMAN_CHARS))]}, cfg, context=CONTEXT
        )

    return Subject("memorygraph", run_turn, {"reply": model})


def baseline_subject(saver: BaseCheckpointSaver[Any]) -> Subject:
    builder = StateGraph(MessagesState)
    previous = START
    for step in range(1, 5):
        name = f"node_{step}"

        def append(state: MessagesState, step: int = step) -> dict[str, Any]:
            turn = len(state["messages"])
            return {"messages": [AIMessage(text_of(turn * 10 + step, NOTE_CHARS))]}

        builder.add_node(name, append)
        builder.add_edge(previous, name)
        previous = name
    builder.add_edge(previous, END)
    graph = builder.compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "bench"}}

    def run_turn(turn: int) -> object:
        return graph.invoke({"messages": [HumanMessage(text_of(turn, HUMAN_CHARS))]}, cfg)

    return Subject("baseline", run_turn)


def langmem_subject(saver: BaseCheckpointSaver[Any]) -> Subject:
    """langmem's `SummarizationNode`, wired as its docstring shows."""
    with warnings.catch_warnings():
        # langmem 0.0.30's trustcall imports `Send` from its pre-1.0 place.
        warnings.simplefilter("ignore", DeprecationWarning)
        from langmem.short_term import RunningSummary, SummarizationNode

    class State(MessagesState):
        context: dict[str, Any]

    class LLMInputState(TypedDict):
        summarized_messages: list[AnyMessage]
        context: dict[str, Any]

    reply_model = FixedReplyModel()
    summary_model = FixedReplyModel()
    config = MemoryConfig()
    available = config.token_budget - config.output_reserve
    summarize = SummarizationNode(
        model=summary_model,
        max_tokens=available,
        max_tokens_before_summary=available,
        max_summary_tokens=256,
    )

    def call_model(state: LLMInputState) -> dict[str, Any]:
        return {"messages": [reply_model.invoke(state["summarized_messages"])]}

    builder = StateGraph(State)
    builder.add_node("summarize", summarize)
    builder.add_node("call_model", call_model, input_schema=LLMInputState)
    builder.add_edge(START, "summarize")
    builder.add_edge("summarize", "call_model")
    builder.add_edge("call_model", END)
    graph = builder.compile(checkpointer=register_types(saver, extra_types=[RunningSummary]))
    cfg = {"configurable": {"thread_id": "bench"}}

    def run_turn(turn: int) -> object:
        return graph.invoke({"messages": [HumanMessage(text_of(turn, HUMAN_CHARS))]}, cfg)

    return Subject("langmem", run_turn, {"reply": reply_model, "summary": summary_model})


# --- backends and their sizes ---


@dataclass
class Backend:
    """Where one graph's thread lives, and how to measure it."""

    saver: BaseCheckpointSaver[Any]
    store: BaseStore | None
    checkpoint_bytes: Callable[[], int]
    store_bytes: Callable[[], int]
    after_turn: Callable[[int], None] = lambda turn: None


def sqlite_file_bytes(path: Path) -> int:
    """The file's size once its WAL is written back into it."""
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    if busy:
        raise RuntimeError(f"could not checkpoint the WAL of {path}: a reader holds it")
    return path.stat().st_size


@contextlib.contextmanager
def sqlite_backend(directory: Path, name: str, *, with_store: bool) -> Iterator[Backend]:
    checkpoints = directory / f"{name}-checkpoints.db"
    stores = directory / f"{name}-store.db"
    with contextlib.ExitStack() as stack:
        saver = stack.enter_context(open_checkpointer(f"sqlite:///{checkpoints}"))
        store = stack.enter_context(open_store(f"sqlite:///{stores}")) if with_store else None
        yield Backend(
            saver,
            store,
            lambda: sqlite_file_bytes(checkpoints),
            lambda: sqlite_file_bytes(stores) if with_store else 0,
        )
    for path in directory.glob(f"{name}-*.db*"):
        path.unlink()  # the baseline's file reaches gigabytes


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextlib.contextmanager
def postgres_database(base: str) -> Iterator[str]:
    """A fresh database on the server, dropped on exit."""
    import psycopg
    from psycopg import sql

    name = f"memorygraph_bench_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(base, name)
    finally:
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def postgres_problem(base: str) -> str | None:
    """Why the server cannot be used, or None."""
    try:
        import psycopg
    except ImportError:
        return 'psycopg is not installed: pip install -e ".[postgres]"'
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=5):
            return None
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {str(exc).strip()} (set {POSTGRES_URL_ENV})"


def postgres_bytes(url: str, tables: Sequence[str]) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        total = 0
        for table in tables:
            row = conn.execute(
                "SELECT pg_total_relation_size(to_regclass(%s))", (f"public.{table}",)
            ).fetchone()
            total += int(row[0] or 0) if row else 0
        return total


def postgres_setting(base: str, name: str) -> str:
    import psycopg

    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
        return str(row[0]) if row else ""


def postgres_vacuum(url: str, tables: Sequence[str]) -> None:
    """Plain VACUUM (not FULL): marks dead rows' space reusable, as autovacuum does."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            if conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone() != (None,):
                conn.execute(sql.SQL("VACUUM {}").format(sql.Identifier(table)))


@contextlib.contextmanager
def postgres_backend(base: str, *, with_store: bool, vacuum_every: int) -> Iterator[Backend]:
    with postgres_database(base) as url, contextlib.ExitStack() as stack:
        saver = stack.enter_context(open_checkpointer(url))
        store = stack.enter_context(open_store(url)) if with_store else None

        def after_turn(turn: int) -> None:
            if vacuum_every and turn % vacuum_every == 0:
                postgres_vacuum(url, CHECKPOINT_TABLES + STORE_TABLES)

        yield Backend(
            saver,
            store,
            lambda: postgres_bytes(url, CHECKPOINT_TABLES),
            lambda: postgres_bytes(url, STORE_TABLES) if with_store else 0,
            after_turn,
        )


def redis_problem(base: str) -> str | None:
    """Why the Redis server cannot be used, or None."""
    try:
        import redis
    except ImportError:
        return 'redis is not installed: pip install -e ".[redis]"'
    try:
        with redis.Redis.from_url(base, socket_connect_timeout=5) as client:
            client.ping()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc} (set {REDIS_URL_ENV})"
    return None


def redis_bytes(client: Any, keys: Sequence[Any]) -> int:
    """The bytes the keys take in the server's memory (``MEMORY USAGE``, every element)."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return sum(int(size or 0) for size in pipe.execute())


@contextlib.contextmanager
def redis_backend(base: str, *, with_store: bool) -> Iterator[Backend]:
    from memorygraph.checkpointers.backends.redis_saver import RedisSaver

    prefix = f"memorygraph-bench-{os.getpid()}-{secrets.token_hex(4)}"
    url = f"{base}{'&' if '?' in base else '?'}prefix={prefix}"
    with contextlib.ExitStack() as stack:
        saver = stack.enter_context(open_checkpointer(url))
        store = stack.enter_context(open_store(url)) if with_store else None
        assert isinstance(saver, RedisSaver)
        client, keys = saver.conn, saver.keys

        def thread_bytes() -> int:
            members = list(client.smembers(keys.registry("bench")))
            return redis_bytes(client, [*members, keys.registry("bench")])

        def store_bytes() -> int:
            return redis_bytes(client, list(client.scan_iter(match=f"{prefix}:s:*", count=1000)))

        try:
            yield Backend(saver, store, thread_bytes, store_bytes if with_store else lambda: 0)
        finally:
            doomed = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            for start in range(0, len(doomed), 500):
                client.delete(*doomed[start : start + 500])


# --- running turns ---


@dataclass
class Run:
    """What one graph did over one thread."""

    checkpoint_bytes: dict[int, int] = field(default_factory=dict)
    store_bytes: dict[int, int] = field(default_factory=dict)
    turn_seconds: list[float] = field(default_factory=list)
    prompt_tokens: dict[str, list[int]] = field(default_factory=dict)
    seconds: float = 0.0


def run_thread(
    subject: Subject, backend: Backend, turns: int, measure_at: Sequence[int], label: str
) -> Run:
    run = Run()
    start = time.perf_counter()
    for turn in range(1, turns + 1):
        began = time.perf_counter()
        subject.run_turn(turn)
        run.turn_seconds.append(time.perf_counter() - began)
        backend.after_turn(turn)
        if turn in measure_at:
            run.checkpoint_bytes[turn] = backend.checkpoint_bytes()
            run.store_bytes[turn] = backend.store_bytes()
        if turn % 250 == 0 or turn == turns:
            elapsed = time.perf_counter() - start
            print(f"  {label}: turn {turn}/{turns}, {elapsed:.0f} s", file=sys.stderr)
    run.seconds = time.perf_counter() - start
    run.prompt_tokens = {role: list(model.prompt_tokens) for role, model in subject.models.items()}
    return run


def window_median_ms(turn_seconds: Sequence[float], at: int, width: int) -> float:
    """The median time of the ``width`` turns centred on turn ``at`` (1-based)."""
    low = max(1, at - width // 2)
    high = min(len(turn_seconds), low + width - 1)
    return statistics.median(turn_seconds[low - 1 : high]) * 1e3


def growth_exponent(sizes: dict[int, int]) -> float | None:
    """The slope of log(bytes) against log(turns), by least squares."""
    points = [(math.log(turn), math.log(size)) for turn, size in sizes.items() if size > 0]
    if len(points) < 2:
        return None
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


# --- the three measurements ---


def bench_sizes(
    backend_name: str,
    sizes: Sequence[int],
    timing: Sequence[int],
    width: int,
    work: Path,
    postgres_url: str,
    vacuum_every: int,
    redis_url: str = DEFAULT_REDIS_URL,
) -> tuple[dict[str, Any], Run | None]:
    """Checkpoint bytes for memorygraph and the baseline; on SQLite, also the timing run."""
    longest = max(sizes)
    if backend_name == "sqlite":
        longest = max(longest, max(timing) + width // 2)
    runs: dict[str, Run] = {}
    names = ("memorygraph",) if backend_name == "redis" else ("memorygraph", "baseline")
    for name in names:
        with_store = name == "memorygraph"
        opened: contextlib.AbstractContextManager[Backend]
        if backend_name == "sqlite":
            opened = sqlite_backend(work, name, with_store=with_store)
        elif backend_name == "redis":
            opened = redis_backend(redis_url, with_store=with_store)
        else:
            opened = postgres_backend(
                postgres_url, with_store=with_store, vacuum_every=vacuum_every
            )
        with opened as backend:
            if name == "memorygraph":
                subject = memorygraph_subject(backend.saver, backend.store)
                turns = longest
            else:
                subject = baseline_subject(backend.saver)
                turns = max(sizes)
            runs[name] = run_thread(subject, backend, turns, sizes, f"{backend_name} {name}")
    mg = runs["memorygraph"]
    result: dict[str, Any] = {
        name: {
            "checkpoint_bytes": {str(t): run.checkpoint_bytes[t] for t in sizes},
            "store_bytes": {str(t): run.store_bytes[t] for t in sizes},
            "exponent": growth_exponent({t: run.checkpoint_bytes[t] for t in sizes}),
            "seconds": run.seconds,
            "turns": len(run.turn_seconds),
        }
        for name, run in runs.items()
    }
    same = mg.turn_seconds[: max(sizes)]  # the same turns on every backend
    result["time"] = {
        "turns": len(same),
        "median_ms_per_turn": statistics.median(same) * 1e3,
        "mean_ms_per_turn": statistics.fmean(same) * 1e3,
        f"median_ms_last_{width}": statistics.median(same[-width:]) * 1e3,
    }
    if "baseline" in runs:
        base = runs["baseline"]
        result["ratio"] = {str(t): mg.checkpoint_bytes[t] / base.checkpoint_bytes[t] for t in sizes}
    return result, (mg if backend_name == "sqlite" else None)


def bench_timing(run: Run, timing: Sequence[int], width: int) -> dict[str, Any]:
    ms = {str(at): window_median_ms(run.turn_seconds, at, width) for at in timing}
    first, last = (str(at) for at in (timing[0], timing[-1]))
    return {"backend": "sqlite", "window": width, "ms_per_turn": ms, "ratio": ms[last] / ms[first]}


def version_of(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def bench_langmem(
    memorygraph_run: Run, turns: int, timing_first: int, width: int, work: Path
) -> dict[str, Any]:
    version = version_of("langmem")
    if version is None:
        return {"installed": False, "hint": 'pip install -e ".[bench]"'}
    turns = min(turns, len(memorygraph_run.turn_seconds))
    with sqlite_backend(work, "langmem", with_store=False) as backend:
        run = run_thread(langmem_subject(backend.saver), backend, turns, [turns], "langmem")
        checkpoint_bytes = run.checkpoint_bytes[turns]
    points = sorted({timing_first, turns - width // 2})
    langmem_ms = {str(at): window_median_ms(run.turn_seconds, at, width) for at in points}
    memorygraph_ms = {
        str(at): window_median_ms(memorygraph_run.turn_seconds, at, width) for at in points
    }
    replies = run.prompt_tokens["reply"]
    summaries = run.prompt_tokens["summary"]
    ours = memorygraph_run.prompt_tokens["reply"][:turns]
    tail = slice(-width, None)
    return {
        "installed": True,
        "version": version,
        "turns": turns,
        "checkpoint_bytes": checkpoint_bytes,
        "ms_per_turn": langmem_ms,
        "memorygraph_ms_per_turn": memorygraph_ms,
        "time_ratio": {at: langmem_ms[at] / memorygraph_ms[at] for at in langmem_ms},
        "mean_ms_per_turn": statistics.fmean(run.turn_seconds) * 1e3,
        "memorygraph_mean_ms_per_turn": statistics.fmean(memorygraph_run.turn_seconds[:turns])
        * 1e3,
        "reply_calls": len(replies),
        "summary_calls": len(summaries),
        "prompt_tokens_per_reply_call": statistics.median(replies),
        "memorygraph_prompt_tokens_per_reply_call": statistics.median(ours),
        "prompt_tokens_per_reply_call_last": statistics.median(replies[tail]),
        "memorygraph_prompt_tokens_per_reply_call_last": statistics.median(ours[tail]),
        "prompt_tokens_per_call_all": statistics.fmean(replies + summaries),
        "prompt_tokens_per_turn": (sum(replies) + sum(summaries)) / turns,
        "memorygraph_prompt_tokens_per_turn": sum(ours) / turns,
        "prompt_tokens_ratio": statistics.median(replies) / statistics.median(ours),
        "prompt_tokens_per_turn_ratio": (sum(replies) + sum(summaries)) / sum(ours),
    }


# --- output ---


def mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def print_memory_only(backend_name: str, growth: dict[str, Any]) -> None:
    print(f"\nThread bytes in memory, {backend_name} (memorygraph, one thread)")
    print(f"{'turns':>7}{'memorygraph':>14}{'(store)':>12}")
    for turns, size in growth["memorygraph"]["checkpoint_bytes"].items():
        store = growth["memorygraph"]["store_bytes"][turns]
        print(f"{turns:>7}{mb(size):>14}{mb(store):>12}")
    exponent = growth["memorygraph"]["exponent"]
    if exponent is not None:
        print(f"growth exponent: memorygraph {exponent:.2f}")


def print_times(results: dict[str, Any]) -> None:
    times = {name: g["time"] for name, g in results["growth"].items() if "time" in g}
    if times:
        width = next(key for key in next(iter(times.values())) if key.startswith("median_ms_last"))
        last = max(results["turns"])
        print(f"\nmemorygraph per backend, one thread of {last} turns")
        window = "last " + width.rsplit("_", 1)[1]
        print(
            f"{'backend':<10}{'ms/turn median':>16}{'mean':>8}{window:>9}"
            f"{'thread bytes':>14}{'store bytes':>13}"
        )
        for name, time_ in times.items():
            sizes_ = results["growth"][name]["memorygraph"]
            print(
                f"{name:<10}{time_['median_ms_per_turn']:>16.1f}{time_['mean_ms_per_turn']:>8.1f}"
                f"{time_[width]:>9.1f}{mb(sizes_['checkpoint_bytes'][str(last)]):>14}"
                f"{mb(sizes_['store_bytes'][str(last)]):>13}"
            )
        print(
            "(thread bytes: the SQLite checkpoint file, PostgreSQL's checkpoint tables, "
            "Redis's MEMORY USAGE of the thread's keys)"
        )


def print_report(results: dict[str, Any]) -> None:
    for backend_name, growth in results["growth"].items():
        if "skipped" in growth:
            print(f"\n{backend_name}: skipped ({growth['skipped']})")
            continue
        if "ratio" not in growth:  # Redis: memorygraph alone
            print_memory_only(backend_name, growth)
            continue
        sizes = list(growth["ratio"])
        note = ""
        if "autovacuum" in growth:
            note = f", server autovacuum {growth['autovacuum']}"
            if growth["vacuum_every"]:
                note += f", VACUUM every {growth['vacuum_every']} turns"
        print(f"\nCheckpoint bytes, {backend_name} (one thread{note})")
        print(f"{'turns':>7}{'memorygraph':>14}{'(store)':>12}{'baseline':>14}{'ratio':>9}")
        for turns in sizes:
            print(
                f"{turns:>7}"
                f"{mb(growth['memorygraph']['checkpoint_bytes'][turns]):>14}"
                f"{mb(growth['memorygraph']['store_bytes'][turns]):>12}"
                f"{mb(growth['baseline']['checkpoint_bytes'][turns]):>14}"
                f"{growth['ratio'][turns]:>9.4f}"
            )
        exponents = [growth[name]["exponent"] for name in ("memorygraph", "baseline")]
        print(
            "growth exponent: "
            + ", ".join(
                f"{name} {value:.2f}" if value is not None else f"{name} n/a"
                for name, value in zip(("memorygraph", "baseline"), exponents, strict=True)
            )
            + f"  (targets: ratio <= {TARGET_RATIO} at {sizes[-1]} turns, "
            f"exponent <= {TARGET_EXPONENT})"
        )
    print_times(results)
    timing = results["timing"]
    if timing is None:
        return
    first, last = list(timing["ms_per_turn"])
    print(
        f"\nTime per turn, memorygraph on SQLite (median of {timing['window']} turns): "
        f"turn {first}: {timing['ms_per_turn'][first]:.1f} ms, "
        f"turn {last}: {timing['ms_per_turn'][last]:.1f} ms, "
        f"ratio {timing['ratio']:.2f} (target <= {TARGET_TIME_RATIO})"
    )
    langmem = results["langmem"]
    if not langmem["installed"]:
        print(f"\nlangmem is not installed ({langmem['hint']}): comparison skipped")
        return
    print(f"\nlangmem {langmem['version']} SummarizationNode, {langmem['turns']} turns on SQLite")
    print(f"{'':<34}{'langmem':>12}{'memorygraph':>14}{'ratio':>8}")
    for at, ratio in langmem["time_ratio"].items():
        print(
            f"{'ms per turn at turn ' + at:<34}{langmem['ms_per_turn'][at]:>12.1f}"
            f"{langmem['memorygraph_ms_per_turn'][at]:>14.1f}{ratio:>8.2f}"
        )
    print(
        f"{'prompt tokens per reply call':<34}{langmem['prompt_tokens_per_reply_call']:>12.0f}"
        f"{langmem['memorygraph_prompt_tokens_per_reply_call']:>14.0f}"
        f"{langmem['prompt_tokens_ratio']:>8.2f}"
    )
    print(
        f"{'prompt tokens per turn, all calls':<34}{langmem['prompt_tokens_per_turn']:>12.0f}"
        f"{langmem['memorygraph_prompt_tokens_per_turn']:>14.0f}"
        f"{langmem['prompt_tokens_per_turn_ratio']:>8.2f}"
    )
    print(
        f"langmem made {langmem['summary_calls']} summary calls; its checkpoint file: "
        f"{mb(langmem['checkpoint_bytes'])}"
    )


def parse_turns(text: str) -> list[int]:
    values = sorted({int(part) for part in text.split(",") if part.strip()})
    if not values or values[0] <= 0:
        raise argparse.ArgumentTypeError(f"expected positive turn counts, got {text!r}")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=parse_turns, help="sizes (default 250,500,1000)")
    parser.add_argument(
        "--backends", default=None, help="sqlite,postgres,redis (default all three)"
    )
    parser.add_argument("--timing", type=parse_turns, help="two turns to time (default 50,2000)")
    parser.add_argument("--window", type=int, help="turns per timing median (default 20)")
    parser.add_argument("--langmem-turns", type=int, help="langmem's thread length (default 500)")
    parser.add_argument(
        "--postgres-vacuum-every",
        type=int,
        default=0,
        metavar="N",
        help="VACUUM the tables every N turns, for a server whose autovacuum is off (default 0)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--quick", action="store_true", help="small sizes, SQLite: a smoke test")
    args = parser.parse_args()

    quick = args.quick
    sizes = args.turns or ([25, 50, 100] if quick else [250, 500, 1000])
    timing = args.timing or ([10, 90] if quick else [50, 2000])
    width = args.window or (10 if quick else 20)
    langmem_turns = args.langmem_turns or (100 if quick else 500)
    backends = (args.backends or ("sqlite" if quick else "sqlite,postgres,redis")).split(",")
    if len(timing) != 2:
        parser.error("--timing takes exactly two turns")

    postgres_url = (
        os.environ.get(POSTGRES_URL_ENV)
        or os.environ.get("MEMORYGRAPH_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES_URL
    )
    redis_url = os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL
    counter()  # load the encoding before any turn is timed
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": {
            package: version_of(package)
            for package in (
                "langgraph",
                "langgraph-checkpoint",
                "langgraph-checkpoint-sqlite",
                "langgraph-checkpoint-postgres",
                "redis",
                "langmem",
            )
        },
        "quick": quick,
        "turns": sizes,
        "growth": {},
    }
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as directory:
        work = Path(directory)
        memorygraph_run = None
        for backend_name in backends:
            problem = None
            if backend_name == "postgres":
                problem = postgres_problem(postgres_url)
            elif backend_name == "redis":
                problem = redis_problem(redis_url)
            if problem is not None:
                print(f"{backend_name} skipped: {problem}", file=sys.stderr)
                results["growth"][backend_name] = {"skipped": problem}
                continue
            growth, run = bench_sizes(
                backend_name,
                sizes,
                timing,
                width,
                work,
                postgres_url,
                args.postgres_vacuum_every,
                redis_url,
            )
            if backend_name == "postgres":
                growth["autovacuum"] = postgres_setting(postgres_url, "autovacuum")
                growth["vacuum_every"] = args.postgres_vacuum_every
            results["growth"][backend_name] = growth
            memorygraph_run = run or memorygraph_run
        # The timing and langmem runs are on SQLite only.
        results["timing"] = results["langmem"] = None
        if memorygraph_run is not None:
            results["timing"] = bench_timing(memorygraph_run, timing, width)
            results["langmem"] = bench_langmem(
                memorygraph_run, langmem_turns, timing[0], width, work
            )
    results["seconds"] = time.perf_counter() - start
    last = str(sizes[-1])
    results["targets"] = {
        backend_name: {
            **(
                {f"ratio_at_{last}": growth["ratio"][last] <= TARGET_RATIO}
                if "ratio" in growth
                else {}
            ),
            "exponent": (growth["memorygraph"]["exponent"] or 0.0) <= TARGET_EXPONENT,
        }
        for backend_name, growth in results["growth"].items()
        if "skipped" not in growth
    }
    if results["timing"] is not None:
        results["targets"]["time_ratio"] = results["timing"]["ratio"] <= TARGET_TIME_RATIO

    print_report(results)
    print(f"\n{results['seconds']:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
