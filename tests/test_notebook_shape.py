"""benchmarks/notebook_shape.py: the figures it prints for a notebook are the notebook's."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import notebook_shape  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.unit


def test_a_notebooks_cells_lines_reporting_and_machinery_are_counted(tmp_path, write_notebook):
    long_cell = "\n".join(f"x{i} = {i}" for i in range(26))
    wide = "y = '" + "a" * 100 + "'"
    report = 'print(\n    "two lines"\n)\ncheck(True, "a claim")\nz = 1'
    path = write_notebook(tmp_path / "n.ipynb", long_cell, wide, report, "from utils.standins import rehearsal")
    row = notebook_shape.shape(path)
    assert row["code cells"] == 4 and row["longest"] == 26 and row["over 25 lines"] == 1
    assert row["median lines"] == 3 and row["lines over 100 chars"] == 1 and row["checks"] == 1
    assert row["reporting share"] == round(4 / 33, 3)  # a print over 3 lines and a check, of 33 code lines
    assert row["stand-ins or rehearsal"] == 1


def test_the_table_has_a_row_per_notebook(tmp_path, write_notebook, capsys):
    paths = [write_notebook(tmp_path / f"{n}.ipynb", "a = 1") for n in ("a", "b")]
    assert notebook_shape.main([str(p) for p in paths]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[0].startswith("| notebook | code cells |") and "a.ipynb | 1 | 1 |" in lines[2]


@pytest.mark.parametrize("path", sorted(ROOT.glob("week*/*.ipynb")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_notebook_imports_a_stand_in_or_names_the_rehearsal(path):
    """The student reads the lesson: stand-ins and the rehearsal stay in utils/; a check knows when it is rehearsed."""
    cells = ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]]
    assert [c[:80] for c in cells if "utils.standins" in c or "rehears" in c.lower()] == []


def test_cells_after_the_colab_cell_that_printed_nothing_are_counted_from_the_executed_copy(tmp_path, write_notebook):
    (tmp_path / "week9").mkdir()
    path = write_notebook(tmp_path / "week9" / "n.ipynb", "colab = 1", "a = 1", "print(2)", "b = 3")
    build = tmp_path / "build"
    assert notebook_shape.shape(path, build)["silent cells"] == "-"  # not executed yet
    executed = json.loads(path.read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    code[2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "2\n"}]
    (build / "week9").mkdir(parents=True)
    (build / "week9" / "n.ipynb").write_text(json.dumps(executed))
    assert notebook_shape.shape(path, build)["silent cells"] == 2  # "a = 1" and "b = 3"; the Colab cell is not counted
