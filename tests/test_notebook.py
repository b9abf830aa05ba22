"""derivation/derivation.ipynb: stored without outputs, and every cell runs (nbclient, a python3 kernel).

The kernel imports adjoint_ref from this checkout (PYTHONPATH), so the notebook tests the code under
test rather than whatever copy is installed. Its cells assert their own checks (every equation row
within tolerance, the adjoint it builds inline against `ar.gradients`, the table failing when the solver is
broken) and draw the figures with the gallery's cheap settings; about 20 s of CPU time.
"""
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "derivation" / "derivation.ipynb"


def test_the_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_notebook_runs(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    images = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if "image/png" in output.get("data", {})]
    assert len(images) >= 8  # every figure of the derivation, drawn inline
