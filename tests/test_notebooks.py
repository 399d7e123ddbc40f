"""The course notebooks, executed top to bottom (fast mode).

Each notebook in notebooks/ runs in a fresh kernel with MINICNN_FAST=1 (the
long cells shrink their sizes) and a generous time limit per cell, which only
catches a hung cell: this is not a timed test. How long each notebook takes
is measured by benchmarks/notebook_times.py (results in
benchmarks/NOTEBOOK_TIMES.md). That they are stored without outputs, and the
rest of their lint, is tests/test_notebook_lint.py.
"""
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 180  # seconds per cell; the notebooks themselves aim at well under 20 s each


def _ids(paths):
    return [p.stem for p in paths]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("MINICNN_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    # One BLAS thread: the notebooks' matrices are small, and on a crowded machine (CI runners, or
    # several test runs at once) a second BLAS thread mostly spins, which made a notebook 3 to 5
    # times slower (benchmarks/NOTEBOOK_TIMES.md).
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")
    # The kernel must import this checkout's minicnn even when it is not installed.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [output for cell in nb.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
