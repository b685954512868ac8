"""Notebooks are committed clean, start with the set-up cell, and each week has one."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(ROOT.glob("week*/*.ipynb"))


def test_every_week_has_a_notebook():
    assert {p.parent.name for p in NOTEBOOKS} == {"week4", "week5", "week6", "week7"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_clean(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "outputs or counts left in"
    assert "widgets" not in nb["metadata"]
    text = path.read_text()
    for machine_path in ("/work/", "/home/", "/root/", "C:\\\\Users"):
        assert machine_path not in text, f"machine path {machine_path} in {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbstripout_finds_nothing_to_strip(path):
    exe = shutil.which("nbstripout") or str(Path(sys.executable).parent / "nbstripout")
    assert subprocess.run([exe, "--verify", str(path)], capture_output=True).returncode == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_title_then_setup_then_exercises(path):
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# Week")
    colab, profile_cell = [c for c in cells if c["cell_type"] == "code"][:2]
    lines = [line for line in "".join(colab["source"]).splitlines() if line.strip()]
    assert len(lines) <= 4 and "colab_setup.sh" in lines[-1], "the Colab set-up: one cell of at most four lines"
    assert "profile = setup()" in "".join(profile_cell["source"])
    assert "Exercises" in "".join(cells[-1]["source"])


def test_every_colab_address_is_the_one_in_pyproject():
    import tomllib

    repo = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        first_code = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        assert f'"LLMKIT_REPO", "{repo}"' in "".join(first_code["source"]), path.name
        rel = path.relative_to(ROOT).as_posix()
        colab = repo.replace("https://github.com/", "https://colab.research.google.com/github/")
        assert f"{colab}/blob/main/{rel}" in readme, f"no Open in Colab link for {rel}"
