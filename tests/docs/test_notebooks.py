"""The numbered notebooks are committed with their outputs, and still run offline, top to bottom."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_numbered_notebooks() -> None:
    assert NOTEBOOKS
    assert all(path.name[:2].isdigit() for path in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Notebooks draw inline in Jupyter; the kernel started here has no display.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    committed = nbformat.read(path, as_version=4)
    code = [cell for cell in committed.cells if cell.cell_type == "code"]
    # Committed with outputs, so that GitHub shows them: run it in Jupyter and save.
    assert all(cell.get("execution_count") for cell in code), f"{path.name}: run it and save"
    assert any(cell.get("outputs") for cell in code)
    assert "matplotlib.use(" not in "".join(cell.source for cell in code)
    notebook = copy.deepcopy(committed)  # the committed file is left as it is
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    printed = "".join(output.get("text", "") for output in outputs)
    assert "Error" not in printed
    assert printed.strip()
