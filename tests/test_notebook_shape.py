"""benchmarks/notebook_shape.py: the figures it prints for a notebook are the notebook's."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import notebook_shape  # noqa: E402

pytestmark = pytest.mark.unit


def test_a_notebooks_cells_lines_reporting_and_machinery_are_counted(tmp_path, write_notebook):
    long_cell = "\n".join(f"x{i} = {i}" for i in range(26))
    wide = "y = '" + "a" * 100 + "'"
    report = 'print(\n    "two lines"\n)\ncheck(True, "a claim")\nz = 1'
    path = write_notebook(tmp_path / "n.ipynb", long_cell, wide, report, "from utils.standins import overload")
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
