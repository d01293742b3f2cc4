"""Approvals on the command line: chat asks on stdin before anything is remembered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from memorygraph.checkpointers import open_store
from memorygraph.cli import EXIT_OK
from memorygraph.store.facts import load_facts


def chat(db: Path, thread: str, stdin: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "MEMORYGRAPH_MODEL")
    }
    environment["COLUMNS"] = "160"
    return subprocess.run(
        [sys.executable, "-m", "memorygraph.cli", "chat", "--thread", thread, "--db", str(db)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        env=environment,
        check=False,
    )


def test_chat_asks_before_remembering_and_a_no_keeps_it_out(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    said_no = chat(db, "c1", "I'm allergic to peanuts.\nn\nI'm allergic to shellfish.\ny\n/quit\n")
    assert said_no.returncode == EXIT_OK, said_no.stderr
    assert said_no.stdout.count("approval needed") == 2
    assert "remember this across threads? (y/N)" in said_no.stdout
    assert "Command(resume={'reject'" in said_no.stdout
    assert "Command(resume={'approve'" in said_no.stdout
    assert said_no.stdout.count("assistant:") == 2  # both turns were answered
    with open_store(f"sqlite:///{db}") as store:
        remembered = {f.value for f in load_facts(store, "local", "me")}
    assert remembered == {"shellfish"}
