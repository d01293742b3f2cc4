"""The memorygraph command, run the way a user runs it: as a process, on a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from memorygraph.cli import EXIT_ERROR, EXIT_NO_THREAD, EXIT_OK, EXIT_USAGE


def run(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "MEMORYGRAPH_MODEL")
    }
    environment.update({"COLUMNS": "160", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "memorygraph.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        env=environment,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_db(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    return db, run("demo", "--db", str(db))


def test_demo_runs_two_sessions_in_two_processes(
    demo_db: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    db, result = demo_db
    assert result.returncode == EXIT_OK, result.stderr
    out = result.stdout
    pids = [
        line.split("process ")[1].split(")")[0]
        for line in out.splitlines()
        if "session " in line and "process" in line
    ]
    assert len(pids) == 2 and pids[0] != pids[1]
    assert "excluded: over_budget" in out
    assert out.count("context package for this turn") == 7
    assert "/700 tokens" in out
    assert "start in Osaka" in out
    assert db.exists()


def test_threads_inspect_forget(demo_db: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    db, _ = demo_db
    listed = run("threads", "--db", str(db))
    assert listed.returncode == EXIT_OK and listed.stdout.split() == ["demo"]
    shown = run("inspect", "--thread", "demo", "--db", str(db))
    assert shown.returncode == EXIT_OK
    assert "And where do I live?" in shown.stdout and "output_contract" in shown.stdout
    assert run("inspect", "--thread", "nope", "--db", str(db)).returncode == EXIT_NO_THREAD
    assert run("forget", "--thread", "nope", "--db", str(db)).returncode == EXIT_NO_THREAD
    forgot = run("forget", "--thread", "demo", "--db", str(db))
    assert forgot.returncode == EXIT_OK
    assert run("threads", "--db", str(db)).stdout.split() == []


def test_chat_offline(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    result = run(
        "chat",
        "--thread",
        "c1",
        "--db",
        str(db),
        stdin="My favourite colour is teal.\nWhat is my favourite colour?\n/inspect\n/quit\n",
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert "offline model" in result.stdout
    assert "favourite colour is teal" in result.stdout.split("What is my")[-1]
    assert "last context package" in result.stdout


def test_errors_and_usage(tmp_path: Path) -> None:
    bad = run("threads", "--db", "mysql://nowhere/db")
    assert bad.returncode == EXIT_ERROR
    assert "error:" in bad.stdout
    assert run("inspect", "--db", str(tmp_path / "x.db")).returncode == EXIT_USAGE
    assert run("--help").returncode == EXIT_OK
    for command in ("demo", "chat", "inspect", "threads", "forget"):
        helped = run(command, "--help")
        assert helped.returncode == EXIT_OK and "--db" in helped.stdout
