"""Where a turn's time goes, per node and per checkpoint and store call.

Used by ``bench_growth.py --profile-nodes``. Everything is timed through
public extension points, with `time.perf_counter`:

- a LangChain callback handler (``config["callbacks"]``) sees the graph's root
  run start and end, and each node's run (the root's children) start and end;
- the compiled graph's checkpointer and store (``graph.checkpointer``,
  ``graph.store``) get timing wrappers on their instances around
  ``get_tuple``, ``put``, ``put_writes`` and ``batch``. The saver's calls are
  taken one at a time (the SQLite saver holds one lock per connection
  anyway), so a call waiting for another is not counted twice; their CPU time
  (`time.thread_time`) is kept beside the wall time, the rest being mostly
  SQLite's commits (``fsync``).

A turn then splits into: before the run (memorygraph's thread lock and
preflight: ``load_thread``'s checkpoint load, ``check_input``, the prune
target), LangGraph's own checkpoint load, each node, the rest of LangGraph's
run, and after the run (memorygraph's ``prune_thread``). Checkpoint saves run
in LangGraph's background thread (durability ``"async"``), overlapping the
next node, so they are shown apart, not subtracted; store calls are made from
inside the nodes and are part of their time.

Components are means over a window of turns (means add up; the total's
median is given too). The callbacks themselves cost a little, so the profiled
thread runs apart from the timed ones.
"""

from __future__ import annotations

import contextlib
import cProfile
import functools
import io
import pstats
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from systems import HUMAN_CHARS, Subject, text_of

BEFORE = "before the run (lock, preflight)"
BEFORE_LOAD = "  of which checkpoint load"
RUN_LOAD = "checkpoint load (LangGraph)"
RUN_OTHER = "LangGraph, between nodes"
AFTER = "after the run (prune)"
SAVES = "checkpoint saves (put, put_writes)"
SAVES_CPU = "  of which CPU"
STORE = "store calls (inside nodes)"
TOTAL = "turn"


class NodeTimer(BaseCallbackHandler):
    """Times the root run, its nodes and the saver's and store's calls of one turn."""

    run_inline = True

    def __init__(self, durability: str = "async") -> None:
        self.durability = durability
        self.saver_lock = threading.Lock()
        self.root: UUID | None = None
        self.root_start = self.root_end = 0.0
        self.root_cpu_start = self.root_cpu_end = 0.0
        self.phase = "before"
        self.nodes: dict[UUID, tuple[str, float, float]] = {}
        self.spent: dict[str, float] = {}
        self.cpu: dict[str, float] = {}  # CPU time of the same components

    def begin_turn(self) -> None:
        self.root, self.phase, self.spent, self.cpu = None, "before", {}, {}
        self.nodes.clear()

    def add(self, name: str, seconds: float) -> None:
        self.spent[name] = self.spent.get(name, 0.0) + seconds

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        now = time.perf_counter()
        if parent_run_id is None and self.root is None:
            self.root, self.root_start, self.phase = run_id, now, "run"
            self.root_cpu_start = time.process_time()
        elif parent_run_id is not None and parent_run_id == self.root:
            name = kwargs.get("name") or (metadata or {}).get("langgraph_node") or "?"
            self.nodes[run_id] = (str(name), now, time.thread_time())

    def _end(self, run_id: UUID) -> None:
        now = time.perf_counter()
        if run_id == self.root:
            self.root_end, self.phase = now, "after"
            self.root_cpu_end = time.process_time()
        elif run_id in self.nodes:
            name, began, cpu = self.nodes.pop(run_id)
            self.add(f"node {name}", now - began)
            # A node runs in one thread: its own CPU time, not the saves beside it.
            self.cpu[f"node {name}"] = self.cpu.get(f"node {name}", 0.0) + (
                time.thread_time() - cpu
            )

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    def wrap(
        self,
        target: Any,
        method: str,
        label: Callable[[str], str | None],
        *,
        cpu_label: str | None = None,
        exclusive: bool = False,
    ) -> None:
        """Time ``target.method`` (on the instance), under ``label(phase)``."""
        original = getattr(target, method, None)
        if original is None:
            return
        lock = self.saver_lock if exclusive else contextlib.nullcontext()

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            phase = self.phase
            with lock:
                began, cpu = time.perf_counter(), time.thread_time()
                try:
                    return original(*args, **kwargs)
                finally:
                    name = label(phase)
                    if name is not None:
                        self.add(name, time.perf_counter() - began)
                        if cpu_label is not None:
                            self.add(cpu_label, time.thread_time() - cpu)

        setattr(target, method, timed)

    def end_turn(
        self, began: float, ended: float, cpu_began: float, cpu_ended: float
    ) -> tuple[dict[str, float], dict[str, float]]:
        """The turn's components, in seconds: wall time, and CPU time where it is known.

        CPU time: the process's (`time.process_time`) for the turn and its
        phases before and after the run, the node's thread's for a node.
        """
        cpu = dict(self.cpu)
        cpu[TOTAL] = cpu_ended - cpu_began
        if self.root is not None:
            cpu[BEFORE] = self.root_cpu_start - cpu_began
            cpu[AFTER] = cpu_ended - self.root_cpu_end
        if SAVES_CPU in self.spent:
            cpu[SAVES] = self.spent[SAVES_CPU]
        if self.root is not None:
            # The run's CPU time (all of the process's threads) less its nodes' and saves':
            # LangGraph's loop, its checkpoint load, and these callbacks.
            nodes = sum(value for name, value in cpu.items() if name.startswith("node "))
            run = self.root_cpu_end - self.root_cpu_start
            cpu[RUN_OTHER] = run - nodes - cpu.get(SAVES, 0.0)
        spent = dict(self.spent)
        nodes = sum(value for name, value in spent.items() if name.startswith("node "))
        if self.root is not None:
            spent[BEFORE] = self.root_start - began
            spent[AFTER] = ended - self.root_end
            inside = nodes + spent.get(RUN_LOAD, 0.0)
            if self.durability == "sync":
                inside += spent.get(SAVES, 0.0)
            spent[RUN_OTHER] = (self.root_end - self.root_start) - inside
        spent[TOTAL] = ended - began
        return spent, cpu


def instrument(subject: Subject, durability: str = "async") -> NodeTimer:
    """Attach a `NodeTimer` to a subject's runs, saver and store."""
    timer = NodeTimer(durability)
    subject.callbacks.append(timer)
    subject.invoke_kwargs["durability"] = durability
    graph = subject.graph
    saver, store = getattr(graph, "checkpointer", None), getattr(graph, "store", None)
    if saver is not None and not isinstance(saver, bool):
        load = {"before": BEFORE_LOAD, "run": RUN_LOAD, "after": None}
        timer.wrap(saver, "get_tuple", load.get, exclusive=True)
        for method in ("put", "put_writes"):
            timer.wrap(
                saver,
                method,
                lambda phase: SAVES if phase == "run" else None,
                cpu_label=SAVES_CPU,
                exclusive=True,
            )
    if store is not None:
        timer.wrap(store, "batch", lambda phase: STORE)
    return timer


def profile_thread(
    subject: Subject,
    turns: int,
    points: Sequence[int],
    width: int,
    *,
    stats_path: Path | None = None,
    label: str = "",
    durability: str = "async",
) -> dict[str, Any]:
    """Run ``turns`` turns with the timer on, and summarise windows around ``points``.

    With ``stats_path``, the last window also runs under `cProfile` (main
    thread only: not the background checkpoint saves) and its stats are
    written there; the functions with the most own time are returned, per turn.

    Returns:
        ``{"windows": {point: {component: mean ms}}, "median_ms": {...}, "top": [...]}``.
    """
    timer = instrument(subject, durability)
    per_turn: list[dict[str, float]] = []
    per_turn_cpu: list[dict[str, float]] = []
    last_low = max(1, points[-1] - width // 2)
    last_high = min(turns, last_low + width - 1)
    profiler = cProfile.Profile() if stats_path is not None else None
    for turn in range(1, turns + 1):
        if profiler is not None and turn == last_low:
            profiler.enable()
        message = HumanMessage(text_of(turn, HUMAN_CHARS))
        timer.begin_turn()
        began, cpu = time.perf_counter(), time.process_time()
        output = subject.run_turn(message)
        spent, spent_cpu = timer.end_turn(began, time.perf_counter(), cpu, time.process_time())
        per_turn.append(spent)
        per_turn_cpu.append(spent_cpu)
        if profiler is not None and turn == last_high:
            profiler.disable()
        subject.observe(output)
        if turn % 250 == 0 or turn == turns:
            print(f"  {label} profile: turn {turn}/{turns}", flush=True, file=sys.stderr)
    top: list[dict[str, Any]] = []
    if profiler is not None and stats_path is not None:
        profiler.dump_stats(str(stats_path))
        top = top_functions(profiler, count=12, turns=last_high - last_low + 1)
    windows: dict[str, dict[str, float]] = {}
    cpu_windows: dict[str, dict[str, float]] = {}
    medians: dict[str, float] = {}
    cpu_medians: dict[str, float] = {}
    for at in points:
        low = max(1, at - width // 2)
        rows = per_turn[low - 1 : min(len(per_turn), low + width - 1)]
        cpu_rows = per_turn_cpu[low - 1 : min(len(per_turn), low + width - 1)]
        if not rows:
            continue
        windows[str(at)] = _means(rows)
        cpu_windows[str(at)] = _means(cpu_rows)
        medians[str(at)] = statistics.median(row[TOTAL] for row in rows) * 1e3
        cpu_medians[str(at)] = statistics.median(row[TOTAL] for row in cpu_rows) * 1e3
    return {
        "system": subject.name,
        "durability": durability,
        "turns": turns,
        "window": width,
        "windows": windows,
        "median_ms": medians,
        "cpu_windows": cpu_windows,
        "cpu_median_ms": cpu_medians,
        "top": top,
    }


def _means(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each component's mean over the rows, in ms (0 in a row that lacks it)."""
    names = sorted({name for row in rows for name in row}, key=_order)
    return {name: statistics.fmean(row.get(name, 0.0) for row in rows) * 1e3 for name in names}


def top_functions(profiler: cProfile.Profile, count: int, turns: int) -> list[dict[str, Any]]:
    """The functions with the most own time in a profile of ``turns`` turns, per turn."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{Path(filename).name}:{line}({name})",
                "calls": calls / turns,
                "own_ms": own * 1e3 / turns,
                "cumulative_ms": cumulative * 1e3 / turns,
            }
        )
    rows.sort(key=lambda row: -row["own_ms"])
    return rows[:count]


_NODE_ORDER = ("extract_facts", "approve", "summarize", "pack_context", "call_model", "model")
_ORDER = [BEFORE, BEFORE_LOAD, RUN_LOAD]


def _order(name: str) -> tuple[int, str]:
    if name in _ORDER:
        return _ORDER.index(name), name
    if name.startswith("node "):
        node = name.removeprefix("node ")
        rank = next((i for i, part in enumerate(_NODE_ORDER) if part in node), len(_NODE_ORDER))
        return 10 + rank, name
    tail = [RUN_OTHER, SAVES, SAVES_CPU, STORE, AFTER, TOTAL]
    return (30 + tail.index(name), name) if name in tail else (29, name)


def print_profiles(profiles: Sequence[dict[str, Any]]) -> None:
    """One table per system: components (rows) by window (columns), mean ms per turn."""
    for profile in profiles:
        points = list(profile["windows"])
        print(
            f"\nPer-turn time of {profile['system']} by component (mean ms over "
            f"{profile['window']} turns around each turn; durability "
            f"{profile['durability']!r}, callbacks on): wall ms, share of the turn, CPU ms"
        )
        print(f"{'':<46}" + "".join(f"{'turn ' + at:>22}" for at in points))
        names = sorted({name for at in points for name in profile["windows"][at]}, key=_order)
        for name in names:
            cells = ""
            for at in points:
                wall, total = profile["windows"][at].get(name, 0.0), profile["windows"][at][TOTAL]
                cpu = profile["cpu_windows"][at].get(name)
                share = wall / total if total else 0.0
                cpu_text = f"{cpu:.1f}" if cpu is not None else ""
                cells += f"{wall:>9.1f} {share:>4.0%} {cpu_text:>7}"
            print(f"{name:<46}{cells}")
        medians = "".join(
            f"{profile['median_ms'][at]:>14.1f} {profile['cpu_median_ms'][at]:>7.1f}"
            for at in points
        )
        print(f"{'turn, median':<46}{medians}")
        if profile["top"]:
            print("cProfile of the last window, main thread, per turn (own time first):")
        for row in profile["top"]:
            print(
                f"  {row['own_ms']:>8.2f} ms own {row['cumulative_ms']:>8.2f} ms cum "
                f"{row['calls']:>9.1f} calls  {row['function']}"
            )
