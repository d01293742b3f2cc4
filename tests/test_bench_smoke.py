"""`benchmarks/bench_growth.py --quick` runs, and its JSON holds what the README reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_growth.py"
SIZES = ["25", "50", "100"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "growth.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--backends", "sqlite", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Checkpoint bytes, sqlite" in done.stdout
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


@pytest.mark.slow
def test_timing_and_langmem(quick: dict[str, Any]) -> None:
    timing = quick["timing"]
    assert timing["backend"] == "sqlite" and timing["window"] == 10
    first, last = timing["ms_per_turn"].values()
    assert 0 < first < 10_000 and 0 < last < 10_000
    assert timing["ratio"] == pytest.approx(last / first)
    assert set(quick["targets"]) == {"sqlite", "time_ratio"}

    langmem = quick["langmem"]
    if not langmem["installed"]:
        pytest.skip('langmem is not installed: pip install -e ".[bench]"')
    assert langmem["turns"] == 100
    assert langmem["reply_calls"] == 100
    assert langmem["summary_calls"] >= 1
    assert set(langmem["time_ratio"]) == set(langmem["ms_per_turn"])
    assert all(ratio > 0 for ratio in langmem["time_ratio"].values())
    assert langmem["prompt_tokens_per_reply_call"] > 0
    assert langmem["memorygraph_prompt_tokens_per_reply_call"] > 0
    assert langmem["prompt_tokens_ratio"] == pytest.approx(
        langmem["prompt_tokens_per_reply_call"]
        / langmem["memorygraph_prompt_tokens_per_reply_call"]
    )


@pytest.mark.redis
def test_growth_on_redis_reports_bytes_and_time(tmp_path: Path, redis_url: str) -> None:
    import redis

    base = redis_url.partition("?")[0]
    out = tmp_path / "growth.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--backends", "redis", "--turns", "5,10"]
        + ["--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "MEMORYGRAPH_BENCH_REDIS_URL": base},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Thread bytes in memory, redis" in done.stdout
    growth = json.loads(out.read_text())["growth"]["redis"]
    assert set(growth) == {"memorygraph", "time"}  # no baseline on Redis
    assert all(size > 1000 for size in growth["memorygraph"]["checkpoint_bytes"].values())
    assert all(size > 1000 for size in growth["memorygraph"]["store_bytes"].values())
    assert growth["time"]["turns"] == 10 and growth["time"]["median_ms_per_turn"] > 0
    with redis.Redis.from_url(base) as client:
        assert not list(client.scan_iter(match="memorygraph-bench-*"))  # cleaned up
