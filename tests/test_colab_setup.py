"""Colab's set-up installs what the notebooks need and leaves Colab's Jupyter stack and torch as Google ships them."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import colab_requirements  # noqa: E402

pytestmark = pytest.mark.unit

PROTECTED = {"ipykernel", "jupyter_client", "notebook", "tornado", "ipywidgets", "torch"}


def names(lines: list[str]) -> set[str]:
    return {colab_requirements.package_name(line) for line in lines}


def test_colab_installs_no_jupyter_or_test_tools_and_every_other_requirement():
    printed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "colab_requirements.py")], capture_output=True, text=True, check=True
    ).stdout.split()
    required = names(colab_requirements.colab_lines((ROOT / "requirements.txt").read_text()))
    everything = {line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()}
    assert names(printed) == required and not (required & PROTECTED) and "llama-cpp-python" not in required
    assert names([e for e in everything if e]) - required <= colab_requirements.NOT_ON_COLAB  # nothing else dropped
    assert {"transformers", "peft", "bitsandbytes", "openai"} <= required


def test_colab_setup_holds_the_runtimes_stack_at_its_versions():
    script = (ROOT / "scripts" / "colab_setup.sh").read_text()
    held = re.search(r'grep -i -E "\^\(([^)]*)\)==', script).group(1).replace("[-_]", "_").split("|")
    assert PROTECTED <= set(held)
    installs = [line for line in script.splitlines() if line.strip().startswith("pip install")]
    assert installs and all('-c "$keep"' in line or "--no-deps" in line for line in installs)


def test_the_stand_in_fails_under_ci_without_its_inputs_and_says_why_elsewhere(tmp_path):
    script = Path(__file__).resolve().parent.parent / "scripts" / "colab_standin.sh"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "COLAB_FREEZE": str(tmp_path / "none.txt"), "PY313": ""}
    for ci, code in (("true", 2), ("", 0)):
        run = subprocess.run(["bash", str(script)], env={**env, "CI": ci}, capture_output=True, text=True)
        assert run.returncode == code and "no Colab package list" in run.stdout
        assert ("skipped" in run.stdout) == (code == 0)  # never skipped under CI
