"""The README's quickstart runs as written, offline, in a fresh folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_quickstart_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no python example"
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Where do I live?" in out
    assert (tmp_path / "memory.db").exists()


def test_the_three_ways_in_answer_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    section = README.read_text().split("## Three ways in", 1)[1].split("\n## ", 1)[0]
    setup, *ways = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(ways) == 3
    monkeypatch.chdir(tmp_path)
    for number, way in enumerate(ways, 1):
        assert way.strip().count("\n") < 10, f"way {number} is over ten lines"
        exec(compile(setup + way, f"README.md (way {number})", "exec"), {})
        answer = capsys.readouterr().out.strip()
        assert answer == "(offline model) From what I was given: I live in Lisbon.", number
        assert f"# {answer}" in section  # the answer the README shows is the real one


def test_every_config_field_is_documented() -> None:
    from memorygraph import MemoryConfig

    text = README.read_text()
    section = text.split("## Configuration (`MemoryConfig`)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    missing = sorted(set(MemoryConfig.model_fields) - documented)
    assert not missing, f"add these MemoryConfig fields to the README's table: {missing}"
