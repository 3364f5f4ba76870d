"""The course (``course/*.ipynb``): every chapter runs top to bottom in a real Jupyter kernel with no
error and nothing on standard error (no warning), and its exercises check real values: each exercise
cell run again with a wrong answer fails with the notebook's AssertionError.
"""

import re
from pathlib import Path

import pytest

from kernels import TEXT_LIMIT, kernel_spec, problems
from optional import need

COURSE = Path(__file__).resolve().parents[1] / "course"
CHAPTERS = sorted(COURSE.glob("[0-9][0-9]-*.ipynb"))
WRONG = "answer = -12345.678"


def test_the_course_has_its_twelve_chapters_in_order():
    assert [int(p.name[:2]) for p in CHAPTERS] == list(range(1, 13))


def _exercises(nb):
    return [k for k, cell in enumerate(nb.cells) if cell.cell_type == "code" and "check(" in cell.source
            and re.search(r"^answer = ", cell.source, flags=re.M)]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_a_chapter_runs_top_to_bottom_and_checks_its_exercises(path, tmp_path, monkeypatch):
    nbformat, nbclient = need("nbformat"), need("nbclient")
    need("ipykernel"), need("matplotlib"), need("PIL")
    nb = nbformat.read(path, as_version=4)
    exercises = _exercises(nb)
    assert 2 <= len(exercises) <= 3, f"{path.name}: {len(exercises)} exercises"
    client = nbclient.NotebookClient(nb, kernel_name=kernel_spec(tmp_path, monkeypatch), timeout=120,
                                     startup_timeout=60, resources={"metadata": {"path": str(COURSE)}})
    with client.setup_kernel():
        for k, cell in enumerate(nb.cells):
            client.execute_cell(cell, k)
        assert problems(nb) == []
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                assert len(out.get("data", {}).get("text/plain", "")) <= TEXT_LIMIT
        for k in exercises:                     # each exercise answered wrongly fails, with a hint
            wrong = nbformat.v4.new_code_cell(re.sub(r"^answer = .*$", WRONG, nb.cells[k].source, flags=re.M))
            with pytest.raises(nbclient.exceptions.CellExecutionError) as failed:
                client.execute_cell(wrong, k)
            assert failed.value.ename == "AssertionError" and "Hint:" in failed.value.evalue, failed.value.evalue
