"""The main job survives a failing cell and a dead kernel, and still writes its summary."""

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import run_notebooks  # noqa: E402


def notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, path)
    return path


def test_failures_and_dead_kernels_are_rows_not_crashes(tmp_path, capfd):
    good = notebook(tmp_path / "a_good.ipynb", "import time; time.sleep(0.3)", "x = 1")
    dies = notebook(tmp_path / "b_dies.ipynb", "import os; os._exit(1)")
    fails = notebook(tmp_path / "c_fails.ipynb", "assert 1 == 2, 'the claim is false'")
    after = notebook(tmp_path / "d_after.ipynb", "print('still running')")
    code = run_notebooks.main(["--out", str(tmp_path / "build"), *map(str, (good, dies, fails, after))])
    summary = (tmp_path / "build" / "SUMMARY.md").read_text()
    assert code == 1 and "| a_good.ipynb |" in summary and "| d_after.ipynb |" in summary
    assert "b_dies.ipynb | " in summary and "DeadKernelError" in summary
    assert "c_fails.ipynb" in summary and "the claim is false" in summary
    assert "2/4 ok" in summary and "## Slowest cells" in summary
    assert (tmp_path / "build" / "d_after.ipynb").exists()
    assert "without encryption" not in capfd.readouterr().err
