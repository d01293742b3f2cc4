"""`benchmarks/bench_growth.py --quick` runs, and its JSON holds what the README reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_growth.py"
SIZES = ["25", "50", "100"]
POINTS = ["10", "90"]

# A LoCoMo-format conversation small enough for a smoke test.
SESSIONS = [
    (
        "1:56 pm on 8 May, 2023",
        [
            ("Ana", "I went to a pottery class yesterday, it was so calming."),
            ("Bo", "Nice! I ran a charity race for mental health last Saturday."),
            ("Ana", "My sister Marta just moved to Valparaiso."),
        ],
    ),
    (
        "10:00 am on 20 June, 2023",
        [
            ("Bo", "I adopted a kitten called Miso last week."),
            ("Ana", "So cute! I painted a sunset over the lake."),
        ],
    ),
]
QUESTIONS = [
    ("Where did Marta move to?", "Valparaiso", ["D1:3"], 4),
    ("What is the name of Bo's kitten?", "Miso", ["D2:1"], 4),
    ("What did Ana paint?", "a sunset over the lake", ["D2:2"], 4),
]


def locomo_file(path: Path) -> Path:
    conversation: dict[str, Any] = {"speaker_a": "Ana", "speaker_b": "Bo"}
    for number, (date, turns) in enumerate(SESSIONS, start=1):
        conversation[f"session_{number}_date_time"] = date
        conversation[f"session_{number}"] = [
            {"speaker": speaker, "dia_id": f"D{number}:{i}", "text": text}
            for i, (speaker, text) in enumerate(turns, start=1)
        ]
    qa = [{"question": q, "answer": a, "evidence": e, "category": c} for q, a, e, c in QUESTIONS]
    path.write_text(json.dumps([{"sample_id": "tiny", "conversation": conversation, "qa": qa}]))
    return path


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("bench")
    out, stats = work / "growth.json", work / "memorygraph.prof"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--quick",
            "--backends",
            "sqlite",
            "--locomo-data",
            str(locomo_file(work / "locomo.json")),
            "--profile-nodes",
            "--profile-stats",
            str(stats),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for heading in ("Checkpoint bytes, sqlite", "create_agent (", "Per-turn time of memorygraph"):
        assert heading in done.stdout
    assert stats.stat().st_size > 0
    results: dict[str, Any] = json.loads(out.read_text())
    return results


@pytest.mark.slow
def test_growth_keys_and_sizes(quick: dict[str, Any]) -> None:
    assert quick["quick"] is True
    assert quick["turns"] == [25, 50, 100]
    assert list(quick["growth"]) == ["sqlite"]
    growth = quick["growth"]["sqlite"]
    memorygraph, baseline = growth["memorygraph"], growth["baseline"]
    for run in (memorygraph, baseline):
        assert list(run["checkpoint_bytes"]) == SIZES
        assert all(size > 0 for size in run["checkpoint_bytes"].values())
        assert run["turns"] >= 100 and run["seconds"] > 0
    assert list(memorygraph["store_bytes"]) == SIZES
    assert all(size > 0 for size in memorygraph["store_bytes"].values())
    assert all(size == 0 for size in baseline["store_bytes"].values())
    # The baseline keeps every checkpoint of a growing history: quadratic.
    sizes = [baseline["checkpoint_bytes"][turns] for turns in SIZES]
    assert sizes == sorted(sizes)
    assert 1.5 < baseline["exponent"] < 2.5
    assert memorygraph["exponent"] is not None
    for turns in SIZES:
        expected = memorygraph["checkpoint_bytes"][turns] / baseline["checkpoint_bytes"][turns]
        assert growth["ratio"][turns] == pytest.approx(expected)
    assert growth["ratio"]["100"] < 1
    time = growth["time"]  # memorygraph's first 100 turns, as on every backend
    assert time["turns"] == 100 and time["window"] == 10
    assert 0 < time["median_ms_per_turn"] < 10_000 and time["mean_ms_per_turn"] > 0


@pytest.mark.slow
def test_timing_and_targets(quick: dict[str, Any]) -> None:
    timing = quick["timing"]
    assert timing["backend"] == "sqlite" and timing["window"] == 10
    first, last = timing["ms_per_turn"].values()
    assert 0 < first < 10_000 and 0 < last < 10_000
    assert timing["ratio"] == pytest.approx(last / first)
    cpu_first, cpu_last = timing["cpu_ms_per_turn"].values()
    assert 0 < cpu_first < 10_000 and 0 < cpu_last < 10_000
    assert timing["cpu_ratio"] == pytest.approx(cpu_last / cpu_first)
    assert list(timing["load_average"]) == list(timing["ms_per_turn"])
    expected = {"sqlite", "time_ratio", "create_agent_ratio", "recalled_share"}
    assert set(quick["targets"]) == expected
    ratios = quick["anchors"]["create_agent"]["memorygraph_ratio"].values()
    assert quick["targets"]["create_agent_ratio"] == all(ratio <= 2.0 for ratio in ratios)


def check_anchor(row: dict[str, Any], turns: int) -> None:
    assert row["installed"] is True and row["version"]
    assert row["turns"] == turns
    assert row["reply_calls"] == turns
    assert row["summary_calls"] >= 1  # the thread outgrows the trigger
    assert list(row["ms_per_turn"]) == list(row["memorygraph_ms_per_turn"]) == POINTS
    for at in POINTS:
        ours, theirs = row["memorygraph_ms_per_turn"][at], row["ms_per_turn"][at]
        assert 0 < theirs < 10_000
        assert row["memorygraph_ratio"][at] == pytest.approx(ours / theirs)
        ours, theirs = row["memorygraph_cpu_ms_per_turn"][at], row["cpu_ms_per_turn"][at]
        assert 0 < theirs < 10_000
        assert row["memorygraph_cpu_ratio"][at] == pytest.approx(ours / theirs)
    assert row["prompt_tokens_per_reply_call"] > 0
    assert row["memorygraph_prompt_tokens_per_reply_call"] > 0
    assert row["prompt_tokens_ratio"] == pytest.approx(
        row["memorygraph_prompt_tokens_per_reply_call"] / row["prompt_tokens_per_reply_call"]
    )
    assert row["checkpoint_bytes"] > 0
    assert row["memorygraph_checkpoint_bytes"] > 0 and row["memorygraph_store_bytes"] > 0


@pytest.mark.slow
def test_create_agent_anchor(quick: dict[str, Any]) -> None:
    # The anchors run to the last comparison point plus half a window.
    check_anchor(quick["anchors"]["create_agent"], 95)


@pytest.mark.slow
def test_langmem_anchor(quick: dict[str, Any]) -> None:
    langmem = quick["anchors"]["langmem"]
    if not langmem["installed"]:
        reason = 'langmem is not installed: make install-bench (pip install -e ".[bench]")'
        if os.environ.get("CI"):  # .ci/run installs the extra: the comparison must run
            pytest.fail(f"{reason} (CI is set: the LangMem comparison must run, not skip)")
        pytest.skip(reason)
    check_anchor(langmem, 95)


@pytest.mark.slow
def test_recalled_share(quick: dict[str, Any]) -> None:
    recalled = quick["recalled"]
    assert recalled["budget"] == 4000
    assert recalled["turns"] == 100  # one package per memorygraph turn
    assert 0 <= recalled["share_of_budget"] <= 1
    assert recalled["share_of_budget"] == pytest.approx(recalled["mean_tokens"] / 4000)
    assert list(recalled["share_of_budget_at"]) == POINTS
    # The requests are random words that no archived turn says much of: recall's
    # floor (MemoryConfig.recall_min_coverage) gates every one of them.
    assert recalled["mean_tokens"] == 0
    assert recalled["share_of_budget_at"] == {point: 0 for point in POINTS}


@pytest.mark.slow
def test_locomo_chat(quick: dict[str, Any]) -> None:
    chat = quick["locomo_chat"]
    assert chat["conversations"] == ["tiny"]
    systems = chat["systems"]
    assert {"memorygraph", "create_agent"} <= set(systems)
    for name, row in systems.items():
        if not row["installed"]:
            continue
        assert row["feed_calls"] == len(SESSIONS), name
        assert row["question_calls"] == len(QUESTIONS), name
        assert row["prompt_tokens_median"] > 0
        # The whole conversation fits every system's window: each prompt holds the evidence.
        assert row["evidence_recall"] == pytest.approx(1.0), name
    assert systems["memorygraph"]["recalled_share_of_budget"] is not None


@pytest.mark.slow
def test_node_profiles(quick: dict[str, Any]) -> None:
    profiles = {profile["system"]: profile for profile in quick["profiles"]}
    assert set(profiles) == {"memorygraph", "create_agent"}
    memorygraph = profiles["memorygraph"]
    assert memorygraph["durability"] == "async"
    assert list(memorygraph["windows"]) == POINTS
    for at in POINTS:
        row = memorygraph["windows"][at]
        nodes = [f"node {name}" for name in ("extract_facts", "summarize", "pack_context")]
        for name in [*nodes, "node call_model", "checkpoint load (LangGraph)"]:
            assert row[name] > 0, name
        assert row["checkpoint saves (put, put_writes)"] > 0
        assert row["  of which checkpoint load"] > 0  # the preflight reads the thread
        assert row["store calls (inside nodes)"] > 0
        # The components of the turn add up to the turn.
        parts = [
            "before the run (lock, preflight)",
            "checkpoint load (LangGraph)",
            "LangGraph, between nodes",
            "after the run (prune)",
        ]
        node_time = sum(value for name, value in row.items() if name.startswith("node "))
        total = sum(row[name] for name in parts) + node_time
        assert total == pytest.approx(row["turn"])
        assert memorygraph["median_ms"][at] > 0
        # CPU time: the turn's and each node's; a node's thread cannot use more than its wall time.
        cpu = memorygraph["cpu_windows"][at]
        assert cpu["turn"] > 0 and memorygraph["cpu_median_ms"][at] > 0
        for name in [*nodes, "node call_model"]:
            assert 0 < cpu[name] <= row[name] + 0.05, name
        # The CPU components add up to the turn's CPU time too.
        node_cpu = sum(value for name, value in cpu.items() if name.startswith("node "))
        cpu_parts = ["before the run (lock, preflight)", "LangGraph, between nodes"]
        cpu_parts += ["checkpoint saves (put, put_writes)", "after the run (prune)"]
        assert sum(cpu[name] for name in cpu_parts) + node_cpu == pytest.approx(cpu["turn"])
    assert len(memorygraph["top"]) > 0
    agent = profiles["create_agent"]["windows"]["90"]
    assert agent["node model"] > 0 and agent["turn"] > agent["node model"]


@pytest.mark.redis
def test_growth_on_redis_reports_bytes_and_time(tmp_path: Path, redis_url: str) -> None:
    import redis

    base = redis_url.partition("?")[0]
    prefix = dict(parse_qsl(urlsplit(redis_url).query))["prefix"]  # the run's keys go under it
    out = tmp_path / "growth.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--backends", "redis", "--turns", "5,10"]
        + ["--locomo-conversations", "0", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "MEMORYGRAPH_BENCH_REDIS_URL": redis_url},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Thread bytes in memory, redis" in done.stdout
    assert "memorygraph per backend, turns 1 to 10" in done.stdout
    results = json.loads(out.read_text())
    growth = results["growth"]["redis"]
    assert set(growth) == {"memorygraph", "time"}  # no baseline on Redis
    assert all(size > 1000 for size in growth["memorygraph"]["checkpoint_bytes"].values())
    assert all(size > 1000 for size in growth["memorygraph"]["store_bytes"].values())
    assert growth["time"]["turns"] == 10 and growth["time"]["median_ms_per_turn"] > 0
    assert set(results["targets"]["redis"]) == {"exponent"}
    with redis.Redis.from_url(base) as client:
        assert not list(client.scan_iter(match=f"{prefix}:*"))  # the run cleaned up
