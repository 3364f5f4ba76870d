"""Run notebooks in a real Jupyter kernel (ipykernel, driven by nbclient) for the notebook and course tests.

The kernel is this interpreter's own (``sys.executable -m ipykernel_launcher``), declared in a kernel
spec written to a temporary folder, so the tests never depend on which kernels a machine has installed.
"""

import json
import sys

from optional import need

TEXT_LIMIT = 2000      # no text/plain output of a glassnet object is longer than this


def kernel_spec(folder, monkeypatch):
    """Write a kernel spec for this Python into ``folder`` and point Jupyter at it; returns its name."""
    spec = folder / "kernels" / "glassnet-test"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "glassnet tests", "language": "python",
        "env": {"PYTHONWARNINGS": "default"}}))
    monkeypatch.setenv("JUPYTER_PATH", str(folder))
    return "glassnet-test"


def execute(nb, folder, monkeypatch, timeout=60, cwd=None):
    """Execute the notebook ``nb`` (an nbformat object) in place, in ``cwd``; returns it with outputs."""
    nbclient = need("nbclient")
    need("ipykernel")
    name = kernel_spec(folder, monkeypatch)
    client = nbclient.NotebookClient(nb, kernel_name=name, timeout=timeout, startup_timeout=60,
                                     resources={"metadata": {"path": str(cwd or folder)}})
    client.execute()
    return nb


def notebook(*sources):
    """A notebook of code cells with these sources."""
    nbformat = need("nbformat")
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def problems(nb):
    """Every error and every text on standard error (a warning) among the outputs, as lines."""
    found = []
    for k, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                found.append(f"cell {k}: {out['ename']}: {out['evalue']}")
            elif out["output_type"] == "stream" and out["name"] == "stderr":
                found.append(f"cell {k}: stderr: {out['text'][:500]}")
    return found
