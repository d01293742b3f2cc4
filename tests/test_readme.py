"""The README's quickstart runs as written, offline, in a fresh folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


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


def test_every_config_field_is_documented() -> None:
    from memorygraph import MemoryConfig

    text = README.read_text()
    section = text.split("## Configuration (`MemoryConfig`)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}
    missing = sorted(set(MemoryConfig.model_fields) - documented)
    assert not missing, f"add these MemoryConfig fields to the README's table: {missing}"
