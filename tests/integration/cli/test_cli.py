"""The memorygraph command, run the way a user runs it: as a process, on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from memorygraph.cli import (
    EXIT_ERROR,
    EXIT_NO_THREAD,
    EXIT_OK,
    EXIT_USAGE,
)
from tests.unit.test_cli import chat_lines, in_process, write_jsonl


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
    return db, run("demo", "--db", str(db), env={"COLUMNS": "80"})


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
    assert "approval needed" in out and "resuming with Command(resume={'approve'" in out
    assert db.exists()


def test_demo_fits_80_columns_and_ends_on_the_corrected_decision(
    demo_db: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, result = demo_db
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) < 300  # one line per package item, not a cell wrapped over six
    replies = result.stdout.split("assistant ─")[1:]
    asked = result.stdout.split("Where did we say the trip starts?")[1]
    answer = " ".join(asked.split("assistant ─")[1].split("╰")[0].split())
    assert "start in Osaka" in answer, answer
    assert "Lisbon" in replies[-1]  # "And where do I live?"


def test_threads_inspect_forget(demo_db: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    db, _ = demo_db
    listed = run("threads", "--db", str(db))
    assert listed.returncode == EXIT_OK
    words = [line.split() for line in listed.stdout.splitlines() if line.strip()]
    assert words[0] == ["thread", "tenant", "user", "turns", "last", "activity"]
    assert words[2][:4] == ["demo", "local", "me", "7"] and len(words) == 3
    shown = run("inspect", "--thread", "demo", "--db", str(db))
    assert shown.returncode == EXIT_OK
    assert "And where do I live?" in shown.stdout and "output_contract" in shown.stdout
    assert run("inspect", "--thread", "nope", "--db", str(db)).returncode == EXIT_NO_THREAD
    assert run("forget", "--thread", "nope", "--db", str(db)).returncode == EXIT_NO_THREAD
    forgot = run("forget", "--thread", "demo", "--db", str(db))
    assert forgot.returncode == EXIT_OK
    assert run("threads", "--db", str(db)).stdout.split() == ["no", "threads", "in", str(db)]


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


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str]]:
    return in_process(capsys, monkeypatch)


def test_ingest_then_export(tmp_path: Path, cli: Callable[..., tuple[int, str]]) -> None:
    db = tmp_path / "chat.db"
    transcript = write_jsonl(tmp_path / "chat.jsonl", chat_lines(40))
    ingested = run("ingest", str(transcript), "--thread", "imported", "--db", str(db))
    assert ingested.returncode == EXIT_OK, ingested.stdout + ingested.stderr
    assert "ingested 80 message(s) in 4 run(s)" in " ".join(ingested.stdout.split())

    out = tmp_path / "export.json"
    code, said = cli("export", "--thread", "imported", "--db", str(db), "--out", str(out))
    assert code == EXIT_OK and f"wrote thread imported to {out}" in " ".join(said.split())
    document = json.loads(out.read_text())
    assert set(document) >= {"messages", "archive", "summary", "facts", "context_package"}
    # Folded turns are in the archive, the rest in the window: together, the whole chat.
    contents = [t["content"] for t in document["archive"]] + [
        m["content"] for m in document["messages"]
    ]
    assert contents == [line["content"] for line in chat_lines(40)]  # type: ignore[index]
    assert len(document["messages"]) < 80 and document["summary"] is not None
    first = (document["archive"] or document["messages"])[0]
    assert first.get("speaker", first.get("name")) == "ana"
    assert first["created_at"] == "2025-03-01T10:00:00Z"
    last = document["messages"][-1]
    assert (last["role"], last["content"]) == ("ai", "Answer 39.")
    assert last["created_at"] == "2025-03-01T10:00:39Z"
    package = document["context_package"]
    assert package["thread_id"] == "imported" and package["total_tokens"] > 0

    # Without --out the JSON goes to standard output, and nothing else does.
    code, text = cli("export", "--thread", "imported", "--db", str(db))
    assert code == EXIT_OK and json.loads(text) == document

    code, shown = cli("inspect", "--thread", "imported", "--db", str(db))
    assert code == EXIT_OK
    assert "recent_turn" in shown and "included" in shown
    assert "/4000 tokens" in shown and "reserve 500" in shown


def test_threads_export_and_chat_name_the_owner_options(
    tmp_path: Path, cli: Callable[..., tuple[int, str]]
) -> None:
    db = str(tmp_path / "chat.db")
    transcript = str(write_jsonl(tmp_path / "chat.jsonl", chat_lines(3)))
    code, out = cli("ingest", transcript, "--thread", "ana-1", "--db", db, "--tenant", "acme")
    assert code == EXIT_OK, out
    code, out = cli("ingest", transcript, "--thread", "bo-1", "--db", db, "--user", "bo")
    assert code == EXIT_OK, out

    code, out = cli("threads", "--db", db)
    rows = [line.split() for line in out.splitlines() if line.strip().endswith(tuple("0123456789"))]
    assert [row[:4] for row in rows] == [["ana-1", "acme", "me", "3"], ["bo-1", "local", "bo", "3"]]
    assert all(row[4].startswith("20") for row in rows)  # the last checkpoint's date
    code, out = cli("threads", "--db", db, "--tenant", "acme")
    assert "ana-1" in out and "bo-1" not in out
    code, out = cli("threads", "--db", db, "--user", "bo")
    assert "bo-1" in out and "ana-1" not in out
    code, out = cli("threads", "--db", db, "--tenant", "acme", "--user", "bo")
    assert (
        code == EXIT_OK and " ".join(out.split()) == f"no threads of tenant acme of user bo in {db}"
    )

    # Exporting someone else's thread refuses (it would be empty) and says how.
    exported = tmp_path / "out.json"
    code, out = cli("export", "--thread", "ana-1", "--db", db, "--out", str(exported))
    said = " ".join(out.split())
    assert code == EXIT_ERROR and "belongs to another tenant or user" in said
    assert "--tenant and --user" in said and not exported.exists()
    code, _ = cli(
        "export", "--thread", "ana-1", "--db", db, "--tenant", "acme", "--out", str(exported)
    )
    assert code == EXIT_OK and len(json.loads(exported.read_text())["messages"]) == 6

    chatted = run("chat", "--thread", "ana-1", "--db", db, stdin="hello\n")
    said = " ".join(chatted.stdout.split())
    assert chatted.returncode == EXIT_ERROR, said
    assert "belongs to another tenant or user" in said and "--tenant and --user" in said


def test_export_and_threads_show_the_archive_of_the_thread_as_it_now_is(
    tmp_path: Path, cli: Callable[..., tuple[int, str]]
) -> None:
    """Archive positions past the state's covered turns are not the thread's now.

    ``delete_thread`` deletes checkpoints only: a new conversation on the same
    id folds fewer turns over the old archive (a fork of an older checkpoint
    leaves the same kind of tail).
    """
    from memorygraph.checkpointers import delete_thread, open_checkpointer

    db = tmp_path / "chat.db"
    old = [dict(line, content=f"OLD {line['content']}") for line in chat_lines(40)]  # type: ignore[arg-type]
    new = chat_lines(35)

    def ingest(name: str, lines: list[object]) -> None:
        transcript = str(write_jsonl(tmp_path / f"{name}.jsonl", lines))
        assert cli("ingest", transcript, "--thread", "t", "--db", str(db))[0] == EXIT_OK

    ingest("old", old)
    with open_checkpointer(f"sqlite:///{db}") as checkpointer:
        delete_thread(checkpointer, "t")
    ingest("new", new)
    code, text = cli("export", "--thread", "t", "--db", str(db))
    assert code == EXIT_OK
    document = json.loads(text)
    assert document["archive"], "the new conversation folded turns"
    contents = [t["content"] for t in document["archive"]] + [
        m["content"] for m in document["messages"]
    ]
    assert contents == [line["content"] for line in new]  # type: ignore[index]
    code, listed = cli("threads", "--db", str(db))
    row = next(line.split() for line in listed.splitlines() if line.split()[:1] == ["t"])
    assert row[3] == "35", listed  # user turns: the new conversation's
