"""Code and docs point to the project's own docs/, never to the seed documents outside it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEED = re.compile(r"\bseeds?[ _/]0\d\d(?!\d)|\bseeds/|shared/seeds", re.IGNORECASE)


def test_nothing_cites_the_seed_documents() -> None:
    places = [
        *ROOT.joinpath("src").rglob("*.py"),
        *ROOT.joinpath("docs").rglob("*.md"),
        *ROOT.joinpath("tests").rglob("*.py"),
        *ROOT.joinpath("tests").rglob("*.yaml"),
        *ROOT.joinpath("notebooks").glob("*.ipynb"),
        ROOT / "README.md",
    ]
    citing = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in places
        if path != Path(__file__).resolve()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SEED.search(line)
    ]
    assert citing == []
