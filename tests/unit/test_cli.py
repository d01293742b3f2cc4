"""The memorygraph command, run in this process: ingest's and export's checks, and usage errors.

Running the command as a process (demo, chat, the console script's exit codes) is
in ``tests/integration/cli/test_cli.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from memorygraph.cli import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_NO_THREAD, EXIT_OK, EXIT_USAGE, main
from memorygraph.cli.main import CREATES_DATABASE, command_names


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def chat_lines(turns: int) -> list[object]:
    lines: list[object] = []
    for turn in range(turns):
        stamp = f"2025-03-01T10:{turn // 60:02d}:{turn % 60:02d}Z"
        lines.append(
            {
                "role": "user",
                "content": f"Question {turn}: what about topic {turn}?",
                "name": "ana",
                "created_at": stamp,
            }
        )
        lines.append({"role": "assistant", "content": f"Answer {turn}.", "created_at": stamp})
    return lines


def in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str]]:
    """Run the command in this process (a process costs seconds of imports): (code, stdout)."""
    monkeypatch.setenv("COLUMNS", "160")
    for name in ("OPENAI_API_KEY", "MEMORYGRAPH_MODEL"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse: --help and usage errors
            code = int(exit.code or 0)
        return code, capsys.readouterr().out

    return invoke


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str]]:
    return in_process(capsys, monkeypatch)


def test_ingest_refuses_bad_lines_and_writes_nothing(
    tmp_path: Path, cli: Callable[..., tuple[int, str]]
) -> None:
    db = str(tmp_path / "chat.db")
    lines = chat_lines(3)
    lines[1] = "{not json"
    lines[3] = {"role": "robot", "content": "beep"}
    lines.append({"role": "user", "content": "hi", "created_at": "yesterday"})
    lines.append({"role": "user", "content": 42})
    transcript = str(write_jsonl(tmp_path / "bad.jsonl", lines))
    code, out = cli("ingest", transcript, "--thread", "t", "--db", db)
    assert code == EXIT_BAD_INPUT
    out = " ".join(out.split())
    for number, reason in ((2, "not JSON"), (4, "role must be"), (7, "created_at"), (8, "content")):
        assert f"bad.jsonl:{number}:" in out and reason in out, (number, out)
    assert "4 bad line(s); nothing was written" in out
    code, out = cli("export", "--thread", "t", "--db", db)
    assert code == EXIT_ERROR and "no database at" in out  # not even an empty file

    code, out = cli("ingest", transcript, "--thread", "t", "--db", db, "--skip-bad")
    assert code == EXIT_OK, out
    assert "skipped 4 bad line(s)" in " ".join(out.split())
    document = json.loads(cli("export", "--thread", "t", "--db", db)[1])
    assert [m["content"] for m in document["messages"]] == [
        "Question 0: what about topic 0?",
        "Question 1: what about topic 1?",
        "Question 2: what about topic 2?",
        "Answer 2.",
    ]


def test_ingest_checks_the_whole_file_before_writing(
    tmp_path: Path, cli: Callable[..., tuple[int, str]]
) -> None:
    db = str(tmp_path / "chat.db")
    # Every line parses, but the last request cannot fit the budget: refused up front.
    lines = [*chat_lines(2), {"role": "user", "content": "word " * 5000}]
    transcript = str(write_jsonl(tmp_path / "big.jsonl", lines))
    code, out = cli("ingest", transcript, "--thread", "t", "--db", db, "--batch", "1")
    assert code == EXIT_ERROR and "error:" in out
    assert cli("export", "--thread", "t", "--db", db)[0] == EXIT_NO_THREAD


def test_ingest_and_export_usage_errors(
    tmp_path: Path, cli: Callable[..., tuple[int, str]]
) -> None:
    db = str(tmp_path / "x.db")
    code, out = cli("ingest", str(tmp_path / "nope.jsonl"), "--thread", "t", "--db", db)
    assert code == EXIT_USAGE and "no such file" in out
    assert cli("ingest", "--db", db)[0] == EXIT_USAGE
    assert cli("export", "--db", db)[0] == EXIT_USAGE
    assert cli("ingest", "x.jsonl", "--thread", "t", "--batch", "0")[0] == EXIT_USAGE
    code, helped = cli("--help")
    assert code == EXIT_OK and "ingest" in helped and "export" in helped
    assert "4 bad lines" in " ".join(helped.split())
    for command in ("ingest", "export"):
        code, text = cli(command, "--help")
        assert code == EXIT_OK
        assert "--thread" in text and "exit codes:" in " ".join(text.split())


def test_read_only_commands_never_create_a_database(
    tmp_path: Path, cli: Callable[..., tuple[int, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "missing.db"
    arguments = {  # what each command needs besides --db
        "inspect": [("--thread", "t")],
        "threads": [()],
        "export": [("--thread", "t")],
        "replay": [("--package", "p")],
        "forget": [("--thread", "t"), ("--tenant", "a", "--user", "u"), ("--tenant", "a")],
    }
    # Every command is one that may start a conversation, or is tried here.
    assert set(command_names()) - CREATES_DATABASE == set(arguments)
    for name, variants in arguments.items():
        for extra in variants:
            code, out = cli(name, *extra, "--db", str(missing))
            assert code == EXIT_ERROR, (name, extra, out)
            assert f"no database at {missing}" in " ".join(out.split())
            assert list(tmp_path.iterdir()) == [], (name, extra)  # no file, no lock file
    # Three slashes make a relative path: "tmp/x.db" under the working directory.
    code, out = cli("threads", "--db", "sqlite:///tmp/x.db")
    said = " ".join(out.split())
    assert code == EXIT_ERROR and f"no database at {tmp_path}/tmp/x.db" in said
    assert "four slashes: sqlite:////tmp/x.db" in said
    assert not (tmp_path / "tmp").exists()
