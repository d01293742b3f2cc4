"""``make test-compat`` pins exactly the lowest versions pyproject.toml admits."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[3]


def test_the_compatibility_run_pins_the_lower_bounds() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (line,) = [row for row in makefile.splitlines() if row.startswith("COMPAT_PINS")]
    pins = {name: Version(version) for name, version in re.findall(r'"([\w-]+)==([\w.]+)"', line)}
    assert set(pins) == {"langgraph", "langgraph-checkpoint", "langchain", "langchain-core"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lowest = {}
    for text in project["dependencies"]:
        requirement = Requirement(text)
        for spec in requirement.specifier:
            if spec.operator == ">=":
                lowest[requirement.name] = Version(spec.version)
    for name, version in pins.items():
        assert lowest[name] == version, f"{name}: pyproject admits {lowest[name]}, pinned {version}"
