"""Instructions per turn, counted by callgrind: a measure of per-turn cost that load cannot move.

Wall time on a shared machine moves with the load; the number of instructions
a turn executes does not. Run this script under valgrind's callgrind with
instrumentation off at the start; it switches callgrind on (``callgrind_control
-i on``) only for the turns it measures, after a warm-up on the same thread:

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=cg.out \\
        python benchmarks/bench_instructions.py --system memorygraph --at 40 --turns 10

It prints the instructions of the measured turns (all threads: the checkpoint
saves LangGraph runs in the background are counted) and the turns' CPU time.
``callgrind_annotate cg.out`` then shows where they went, by C function.
The systems, the fake model and the workload are those of ``bench_growth.py``
(`systems.py`), on SQLite files (`backends.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from backends import sqlite_backend
from langchain_core.messages import HumanMessage
from systems import ANCHORS, HUMAN_CHARS, counter, memorygraph_subject, text_of


def _callgrind(switch: str) -> bool:
    """Switch callgrind's instrumentation of this process on or off; False if not under it."""
    try:
        done = subprocess.run(
            ["callgrind_control", "-i", switch, str(os.getpid())],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return False
    return done.returncode == 0 and "Error" not in done.stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="memorygraph", help="memorygraph or create_agent")
    parser.add_argument("--at", type=int, default=40, help="the first measured turn (1-based)")
    parser.add_argument("--turns", type=int, default=10, help="turns measured")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    counter()  # load the encoding before the thread starts
    with tempfile.TemporaryDirectory(prefix="bench-instr-") as directory:
        with contextlib.ExitStack() as stack:
            with_store = args.system == "memorygraph"
            backend = stack.enter_context(
                sqlite_backend(Path(directory), args.system, with_store=with_store)
            )
            if args.system == "memorygraph":
                subject = memorygraph_subject(backend.saver, backend.store)
            else:
                subject = ANCHORS[args.system](backend.saver)
            for turn in range(args.at - 1):
                subject.run_turn(HumanMessage(text_of(turn, HUMAN_CHARS)))
            on = _callgrind("on")
            cpu, wall = time.process_time(), time.perf_counter()
            for turn in range(args.at - 1, args.at - 1 + args.turns):
                subject.run_turn(HumanMessage(text_of(turn, HUMAN_CHARS)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if on:
                _callgrind("off")
    result = {
        "system": args.system,
        "turns": [args.at, args.at + args.turns - 1],
        "callgrind": on,
        "cpu_ms_per_turn": 1000 * cpu / args.turns,
        "wall_ms_per_turn": 1000 * wall / args.turns,
    }
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
