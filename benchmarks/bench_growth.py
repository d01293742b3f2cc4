"""Benchmark checkpoint growth and per-turn time: memorygraph against a plain graph and two anchors.

Usage: python benchmarks/bench_growth.py [--turns 250,500,1000]
           [--backends sqlite,postgres,redis]
           [--timing 50,2000] [--compare-at 40,1000] [--window 20]
           [--anchors create_agent,langmem] [--langmem-turns N]
           [--locomo-conversations 1] [--locomo-sessions N] [--locomo-questions N]
           [--profile-nodes] [--profile-turns N] [--profile-durability async|sync|exit]
           [--profile-stats OUT]
           [--postgres-vacuum-every N] [--json OUT] [--quick]

Every turn is one ~200-character human message. Every system's chat model is
the same fake (benchmarks/systems.py): it answers a fixed ~200-character reply
at once and counts, with memorygraph's `TokenCounter`, the prompt tokens it was
sent. Measured in one run:

1. Checkpoint bytes after each of ``--turns`` turns of one thread, for the
   memorygraph graph (`create_memory_graph` with the default `MemoryConfig`)
   and for a baseline: a plain four-node graph whose nodes each append a
   ~50-character message through `add_messages`. SQLite: the size of the
   checkpoint file after ``PRAGMA wal_checkpoint(TRUNCATE)`` (the store is a
   file of its own, reported apart). PostgreSQL: ``pg_total_relation_size`` of
   the checkpoint tables and of the store tables, in a fresh database per
   graph, dropped at the end (``--postgres-vacuum-every N`` runs ``VACUUM``
   every N turns, for a server whose autovacuum is off). Redis: the sum of
   ``MEMORY USAGE <key> SAMPLES 0`` over the thread's keys, and over the
   store's keys, under a prefix of the run's own, deleted at the end;
   memorygraph only, since the baseline's quadratic history would take
   gigabytes of the server's memory. Then the ratio memorygraph / baseline at
   each size, each graph's growth exponent (the slope of a log-log fit), and
   memorygraph's time per turn on every backend over the same turns.
2. Time per turn on SQLite, each the median of ``--window`` turns around a
   point, with the anchors' threads run turn by turn beside memorygraph's
   (round robin, each turn starting one lane further on, so that no system
   always runs right after the same other one), so that a noisy machine slows
   them alike: memorygraph at the
   ``--timing`` points (the ratio of the last to the first), and memorygraph
   against each anchor at the ``--compare-at`` points. The anchors are
   LangChain's ``create_agent`` with ``SummarizationMiddleware`` (trigger at
   memorygraph's available tokens, keep 20 messages) and langmem's
   `SummarizationNode` (as its docs wire it, ``max_tokens`` at memorygraph's
   available tokens). Also prompt tokens per model call, checkpoint bytes at
   the anchors' last turn, and the recalled tokens of memorygraph's packages
   as a share of its budget.
3. Prompt tokens per call when requests do refer to the past: a LoCoMo
   conversation fed session by session, then its questions asked
   (benchmarks/locomo_chat.py), for memorygraph and the anchors.
4. With ``--profile-nodes``: where memorygraph's and create_agent's per-turn
   time goes, per node and per checkpoint call (benchmarks/node_profile.py),
   on threads of their own.

Results go to stdout and, with --json, to a file. ``--quick`` runs small sizes
on SQLite in well under a minute, as a smoke test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends import BACKENDS, Backend, Servers, postgres_setting, sqlite_backend
from growth_report import (
    TARGET_ANCHOR_RATIO,
    TARGET_EXPONENT,
    TARGET_RATIO,
    TARGET_RECALLED_SHARE,
    TARGET_TIME_RATIO,
    print_report,
)
from langchain_core.messages import HumanMessage
from locomo import DEFAULT_DATA
from locomo_chat import bench_locomo_chat
from node_profile import profile_thread
from systems import (
    ANCHOR_PACKAGES,
    ANCHORS,
    HUMAN_CHARS,
    Subject,
    baseline_subject,
    counter,
    create_agent_subject,
    memorygraph_subject,
    text_of,
    version_of,
)

from memorygraph import MemoryConfig

# --- running turns ---


@dataclass
class Run:
    """What one graph did over one thread."""

    checkpoint_bytes: dict[int, int] = field(default_factory=dict)
    store_bytes: dict[int, int] = field(default_factory=dict)
    turn_seconds: list[float] = field(default_factory=list)
    turn_cpu: list[float] = field(default_factory=list)  # the process's CPU time per turn
    load: list[float] = field(default_factory=list)  # the machine's 1-minute load average
    prompt_tokens: dict[str, list[int]] = field(default_factory=dict)
    recalled: list[int] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Lane:
    """One subject's thread in a round-robin run."""

    subject: Subject
    backend: Backend
    turns: int
    measure_at: set[int]
    run: Run = field(default_factory=Run)


def run_lanes(lanes: Sequence[Lane], label: str) -> dict[str, Run]:
    """Run the lanes' threads turn by turn, round robin, each to its own length.

    Turn ``t`` starts at lane ``t mod n``: a lane that always ran right after
    the same other one would always find what that one leaves behind (a
    langmem turn near turn 1,000 leaves megabytes of garbage and dirty pages,
    and cold CPU caches), and only that lane would pay for it.

    Only ``run_turn`` is timed, in wall time and in the process's CPU time
    (which other jobs on a shared machine inflate far less; no other work of
    this process runs meanwhile, and LangGraph's background saves end within
    the turn); sizes and observations are taken after.
    """
    longest = max(lane.turns for lane in lanes)
    start = time.perf_counter()
    for turn in range(1, longest + 1):
        message = HumanMessage(text_of(turn, HUMAN_CHARS))
        shift = turn % len(lanes)
        for lane in [*lanes[shift:], *lanes[:shift]]:
            if turn > lane.turns:
                continue
            began, cpu = time.perf_counter(), time.process_time()
            output = lane.subject.run_turn(message)
            ended = time.perf_counter()
            lane.run.turn_cpu.append(time.process_time() - cpu)
            lane.run.turn_seconds.append(ended - began)
            lane.run.load.append(os.getloadavg()[0])
            lane.run.seconds += ended - began
            lane.subject.observe(output)
            lane.backend.after_turn(turn)
            if turn in lane.measure_at:
                lane.run.checkpoint_bytes[turn] = lane.backend.checkpoint_bytes()
                lane.run.store_bytes[turn] = lane.backend.store_bytes()
        if turn % 250 == 0 or turn == longest:
            elapsed = time.perf_counter() - start
            print(f"  {label}: turn {turn}/{longest}, {elapsed:.0f} s", file=sys.stderr)
    for lane in lanes:
        models = lane.subject.models.items()
        lane.run.prompt_tokens = {role: list(model.prompt_tokens) for role, model in models}
        lane.run.recalled = list(lane.subject.recalled)
    return {lane.subject.name: lane.run for lane in lanes}


def window(turn_seconds: Sequence[float], at: int, width: int) -> Sequence[float]:
    """The ``width`` turns centred on turn ``at`` (1-based)."""
    low = max(1, at - width // 2)
    high = min(len(turn_seconds), low + width - 1)
    return turn_seconds[low - 1 : high]


def window_median_ms(turn_seconds: Sequence[float], at: int, width: int) -> float:
    """The median time of the ``width`` turns centred on turn ``at``."""
    return statistics.median(window(turn_seconds, at, width)) * 1e3


def growth_exponent(sizes: dict[int, int]) -> float | None:
    """The slope of log(bytes) against log(turns), by least squares."""
    points = [(math.log(turn), math.log(size)) for turn, size in sizes.items() if size > 0]
    if len(points) < 2:
        return None
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


# --- the measurements ---


@dataclass(frozen=True)
class Plan:
    """How long each thread of the SQLite timing run is, and where it is measured."""

    sizes: Sequence[int]
    timing: Sequence[int]
    compare: Sequence[int]
    width: int
    anchors: Sequence[str]
    langmem_turns: int | None

    @property
    def anchor_turns(self) -> int:
        return max(self.compare) + self.width // 2

    def turns_of(self, anchor: str) -> int:
        if anchor == "langmem" and self.langmem_turns:
            return min(self.langmem_turns, self.anchor_turns)
        return self.anchor_turns

    @property
    def memorygraph_turns(self) -> int:
        return max(max(self.sizes), max(self.timing) + self.width // 2, self.anchor_turns)


def bench_same_run(plan: Plan, work: Path) -> tuple[Run, dict[str, Run]]:
    """memorygraph's SQLite thread, with the installed anchors' threads beside it."""
    anchors = [name for name in plan.anchors if version_of(ANCHOR_PACKAGES[name])]
    ends = {plan.turns_of(name) for name in anchors}
    with contextlib.ExitStack() as stack:
        backend = stack.enter_context(sqlite_backend(work, "memorygraph", with_store=True))
        lanes = [
            Lane(
                memorygraph_subject(backend.saver, backend.store),
                backend,
                plan.memorygraph_turns,
                set(plan.sizes) | ends,
            )
        ]
        for name in anchors:
            opened = stack.enter_context(sqlite_backend(work, name, with_store=False))
            turns = plan.turns_of(name)
            lanes.append(Lane(ANCHORS[name](opened.saver), opened, turns, {turns}))
        runs = run_lanes(lanes, "sqlite " + " + ".join(lane.subject.name for lane in lanes))
    memorygraph = runs.pop("memorygraph")
    return memorygraph, runs


def bench_sizes(
    backend_name: str,
    sizes: Sequence[int],
    work: Path,
    servers: Servers,
    memorygraph_run: Run | None,
    width: int,
) -> dict[str, Any]:
    """Checkpoint bytes for memorygraph (its timing run on SQLite) and the baseline.

    On Redis memorygraph runs alone: the baseline's history would sit in the server's RAM.
    """
    runs: dict[str, Run] = {}
    names = ("memorygraph",) if backend_name == "redis" else ("memorygraph", "baseline")
    for name in names:
        if name == "memorygraph" and memorygraph_run is not None:
            runs[name] = memorygraph_run
            continue
        with_store = name == "memorygraph"
        with servers.open(backend_name, work, name, with_store=with_store) as backend:
            if name == "memorygraph":
                subject = memorygraph_subject(backend.saver, backend.store)
            else:
                subject = baseline_subject(backend.saver)
            lane = Lane(subject, backend, max(sizes), set(sizes))
            runs[name] = run_lanes([lane], f"{backend_name} {name}")[name]
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
        "window": width,
        "median_ms_last_window": statistics.median(same[-width:]) * 1e3,
    }
    if "baseline" in runs:
        base = runs["baseline"].checkpoint_bytes
        result["ratio"] = {str(t): mg.checkpoint_bytes[t] / base[t] for t in sizes}
    return result


def bench_timing(run: Run, timing: Sequence[int], width: int) -> dict[str, Any]:
    ms = {str(at): window_median_ms(run.turn_seconds, at, width) for at in timing}
    cpu = {str(at): window_median_ms(run.turn_cpu, at, width) for at in timing}
    load = {str(at): statistics.fmean(window(run.load, at, width)) for at in timing}
    first, last = (str(at) for at in (timing[0], timing[-1]))
    return {
        "backend": "sqlite",
        "window": width,
        "ms_per_turn": ms,
        "ratio": ms[last] / ms[first],
        "cpu_ms_per_turn": cpu,
        "cpu_ratio": cpu[last] / cpu[first],
        "load_average": load,
    }


def bench_recalled(run: Run, compare: Sequence[int], width: int) -> dict[str, Any]:
    """memorygraph's recalled tokens per package, as a share of its budget."""
    budget = MemoryConfig().token_budget
    recalled = [float(tokens) for tokens in run.recalled]
    if not recalled:
        return {"budget": budget, "turns": 0}
    at = {str(point): statistics.fmean(window(recalled, point, width)) for point in compare}
    return {
        "budget": budget,
        "turns": len(recalled),
        "mean_tokens": statistics.fmean(recalled),
        "median_tokens": statistics.median(recalled),
        "max_tokens": max(recalled),
        "share_of_budget": statistics.fmean(recalled) / budget,
        "share_of_budget_at": {point: tokens / budget for point, tokens in at.items()},
    }


def bench_anchor(
    name: str, anchor: Run, memorygraph: Run, compare: Sequence[int], width: int
) -> dict[str, Any]:
    """One anchor against memorygraph, over the anchor's turns of the same run."""
    turns = len(anchor.turn_seconds)
    points = sorted({min(at, turns - width // 2) for at in compare})
    anchor_ms = {str(at): window_median_ms(anchor.turn_seconds, at, width) for at in points}
    ours_ms = {str(at): window_median_ms(memorygraph.turn_seconds, at, width) for at in points}
    anchor_cpu = {str(at): window_median_ms(anchor.turn_cpu, at, width) for at in points}
    ours_cpu = {str(at): window_median_ms(memorygraph.turn_cpu, at, width) for at in points}
    replies, summaries = anchor.prompt_tokens["reply"], anchor.prompt_tokens.get("summary", [])
    ours = memorygraph.prompt_tokens["reply"][:turns]
    tail = slice(-width, None)
    return {
        "installed": True,
        "version": version_of(ANCHOR_PACKAGES[name]),
        "turns": turns,
        "checkpoint_bytes": anchor.checkpoint_bytes[turns],
        "memorygraph_checkpoint_bytes": memorygraph.checkpoint_bytes[turns],
        "memorygraph_store_bytes": memorygraph.store_bytes[turns],
        "ms_per_turn": anchor_ms,
        "memorygraph_ms_per_turn": ours_ms,
        "memorygraph_ratio": {at: ours_ms[at] / anchor_ms[at] for at in anchor_ms},
        "cpu_ms_per_turn": anchor_cpu,
        "memorygraph_cpu_ms_per_turn": ours_cpu,
        "memorygraph_cpu_ratio": {at: ours_cpu[at] / anchor_cpu[at] for at in anchor_cpu},
        "load_average": {
            str(at): statistics.fmean(window(anchor.load, at, width)) for at in points
        },
        "mean_ms_per_turn": statistics.fmean(anchor.turn_seconds) * 1e3,
        "memorygraph_mean_ms_per_turn": statistics.fmean(memorygraph.turn_seconds[:turns]) * 1e3,
        "reply_calls": len(replies),
        "summary_calls": len(summaries),
        "prompt_tokens_per_reply_call": statistics.median(replies),
        "memorygraph_prompt_tokens_per_reply_call": statistics.median(ours),
        "prompt_tokens_per_reply_call_last": statistics.median(replies[tail]),
        "memorygraph_prompt_tokens_per_reply_call_last": statistics.median(ours[tail]),
        "prompt_tokens_per_turn": (sum(replies) + sum(summaries)) / turns,
        "memorygraph_prompt_tokens_per_turn": sum(ours) / turns,
        "prompt_tokens_ratio": statistics.median(ours) / statistics.median(replies),
    }


def bench_profiles(
    plan: Plan, turns: int, work: Path, stats: Path | None, durability: str
) -> list[dict[str, Any]]:
    """memorygraph's and create_agent's per-turn time by component, on threads of their own."""
    profiles = []
    with sqlite_backend(work, "profile-memorygraph", with_store=True) as backend:
        subject = memorygraph_subject(backend.saver, backend.store)
        profiles.append(
            profile_thread(
                subject,
                turns,
                plan.compare,
                plan.width,
                stats_path=stats,
                label="memorygraph",
                durability=durability,
            )
        )
    with sqlite_backend(work, "profile-create_agent", with_store=False) as backend:
        subject = create_agent_subject(backend.saver)
        profiles.append(
            profile_thread(
                subject,
                turns,
                plan.compare,
                plan.width,
                label="create_agent",
                durability=durability,
            )
        )
    return profiles


def bench_sqlite_timing(plan: Plan, work: Path, results: dict[str, Any]) -> Run:
    """The timing run on SQLite, into ``results``; memorygraph's run, for its sizes."""
    memorygraph_run, anchor_runs = bench_same_run(plan, work)
    results["timing"] = bench_timing(memorygraph_run, plan.timing, plan.width)
    results["recalled"] = bench_recalled(memorygraph_run, plan.compare, plan.width)
    for name in plan.anchors:
        if name in anchor_runs:
            results["anchors"][name] = bench_anchor(
                name, anchor_runs[name], memorygraph_run, plan.compare, plan.width
            )
        else:
            results["anchors"][name] = {"installed": False, "hint": 'pip install -e ".[bench]"'}
    return memorygraph_run


def targets(results: dict[str, Any], sizes: Sequence[int]) -> dict[str, Any]:
    """Which targets this run met."""
    last = str(sizes[-1])
    met: dict[str, Any] = {
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
        met["time_ratio"] = results["timing"]["ratio"] <= TARGET_TIME_RATIO
    anchor = results["anchors"].get("create_agent") or {}
    if anchor.get("installed"):
        met["create_agent_ratio"] = all(
            ratio <= TARGET_ANCHOR_RATIO for ratio in anchor["memorygraph_ratio"].values()
        )
    if results["recalled"].get("turns"):
        met["recalled_share"] = results["recalled"]["share_of_budget"] <= TARGET_RECALLED_SHARE
    return met


def parse_turns(text: str) -> list[int]:
    values = sorted({int(part) for part in text.split(",") if part.strip()})
    if not values or values[0] <= 0:
        raise argparse.ArgumentTypeError(f"expected positive turn counts, got {text!r}")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--turns", type=parse_turns, help="sizes (default 250,500,1000)")
    parser.add_argument(
        "--backends", help="sqlite,postgres,redis (default all three; '' for none, e.g. a profile)"
    )
    parser.add_argument("--timing", type=parse_turns, help="two turns to time (default 50,2000)")
    parser.add_argument(
        "--compare-at", type=parse_turns, help="turns to time against the anchors (default 40,1000)"
    )
    parser.add_argument("--window", type=int, help="turns per timing median (default 20)")
    parser.add_argument(
        "--anchors",
        default="create_agent,langmem",
        help="systems run beside memorygraph: create_agent,langmem (default both; '' for none)",
    )
    parser.add_argument(
        "--langmem-turns", type=int, help="cap langmem's thread (default: the anchors' length)"
    )
    parser.add_argument(
        "--locomo-conversations",
        type=int,
        help="LoCoMo conversations for the requests-refer-to-the-past workload (default 1; 0: off)",
    )
    parser.add_argument(
        "--locomo-sessions", type=int, help="sessions fed (default all, 0: all; --quick 2)"
    )
    parser.add_argument(
        "--locomo-questions", type=int, help="questions asked (default all, 0: all; --quick 5)"
    )
    parser.add_argument("--locomo-data", type=Path, default=DEFAULT_DATA, help="LoCoMo JSON")
    parser.add_argument(
        "--profile-nodes", action="store_true", help="time each node and checkpoint call"
    )
    parser.add_argument(
        "--profile-turns", type=int, help="profiled threads' length (default: the anchors')"
    )
    parser.add_argument(
        "--profile-durability",
        choices=("async", "sync", "exit"),
        default="async",
        help="LangGraph durability of the profiled threads (default async, as timed)",
    )
    parser.add_argument(
        "--profile-stats", type=Path, help="cProfile stats of memorygraph's last profiled window"
    )
    parser.add_argument(
        "--postgres-vacuum-every",
        type=int,
        default=0,
        metavar="N",
        help="VACUUM the tables every N turns, for a server whose autovacuum is off (default 0)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--quick", action="store_true", help="small sizes, SQLite: a smoke test")
    args = parser.parse_args(argv)
    quick = args.quick
    args.turns = args.turns or ([25, 50, 100] if quick else [250, 500, 1000])
    args.timing = args.timing or ([10, 90] if quick else [50, 2000])
    args.compare_at = args.compare_at or ([10, 90] if quick else [40, 1000])
    args.window = args.window or (10 if quick else 20)
    if args.backends is None:
        args.backends = "sqlite" if quick else ",".join(BACKENDS)
    args.backends = [name for name in args.backends.split(",") if name.strip()]
    if unknown := set(args.backends) - set(BACKENDS):
        parser.error(f"unknown backends {sorted(unknown)}; choose from {', '.join(BACKENDS)}")
    args.anchors = [name for name in args.anchors.split(",") if name.strip()]
    if len(args.timing) != 2:
        parser.error("--timing takes exactly two turns")
    if unknown := set(args.anchors) - set(ANCHORS):
        parser.error(f"unknown anchors {sorted(unknown)}; choose from {sorted(ANCHORS)}")
    if args.locomo_conversations is None:
        args.locomo_conversations = 1
    if args.locomo_sessions is None:
        args.locomo_sessions = 2 if quick else 0  # 0: all
    if args.locomo_questions is None:
        args.locomo_questions = 5 if quick else 0
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    plan = Plan(
        args.turns, args.timing, args.compare_at, args.window, args.anchors, args.langmem_turns
    )
    servers = Servers.from_env(args.postgres_vacuum_every)
    counter()  # load the encoding before any turn is timed
    packages = ("langgraph", "langgraph-checkpoint", "langgraph-checkpoint-sqlite")
    packages += ("langgraph-checkpoint-postgres", "redis", "langchain", "langchain-core", "langmem")
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "versions": {package: version_of(package) for package in packages},
        "quick": args.quick,
        "turns": args.turns,
        "compare_at": args.compare_at,
        "growth": {},
        "timing": None,
        "anchors": {},
        "recalled": {},
        "locomo_chat": None,
        "profiles": [],
    }
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as directory:
        work = Path(directory)
        memorygraph_run = (
            bench_sqlite_timing(plan, work, results) if "sqlite" in args.backends else None
        )
        for backend_name in args.backends:
            if (problem := servers.problem(backend_name)) is not None:
                print(f"{backend_name} skipped: {problem}", file=sys.stderr)
                results["growth"][backend_name] = {"skipped": problem}
                continue
            growth = bench_sizes(
                backend_name,
                args.turns,
                work,
                servers,
                memorygraph_run if backend_name == "sqlite" else None,
                args.window,
            )
            if backend_name == "postgres":
                growth["autovacuum"] = postgres_setting(servers.postgres_url, "autovacuum")
                growth["vacuum_every"] = args.postgres_vacuum_every
            results["growth"][backend_name] = growth
        if args.locomo_conversations > 0:
            systems = ["memorygraph"]
            systems += [name for name in ("create_agent", "langmem") if name in args.anchors]
            results["locomo_chat"] = bench_locomo_chat(
                args.locomo_data,
                args.locomo_conversations,
                args.locomo_sessions,
                args.locomo_questions,
                work,
                systems,
            )
        if args.profile_nodes:
            turns = args.profile_turns or plan.anchor_turns
            results["profiles"] = bench_profiles(
                plan, turns, work, args.profile_stats, args.profile_durability
            )
    results["seconds"] = time.perf_counter() - start
    results["targets"] = targets(results, args.turns)

    print_report(results)
    print(f"\n{results['seconds']:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
