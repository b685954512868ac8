"""Print the lines of requirements.txt that Colab's set-up installs: what the notebooks import, without the local
build (torch, llama.cpp), the Jupyter stack Colab runs on, or the kit's own test and lint tools."""

import re
import sys
from pathlib import Path

# Colab brings these (its own versions must stay), or the notebooks do not need them there.
NOT_ON_COLAB = {
    "torch",
    "llama-cpp-python",  # Colab's CUDA torch; llama.cpp would be a C++ build (transformers serve instead)
    "jupyterlab",
    "ipywidgets",
    "ipykernel",
    "nbclient",
    "nbformat",  # Colab's Jupyter stack
    "nbval",
    "nbstripout",
    "pytest",
    "ruff",
    "playwright",  # the kit's tests and lint
}


def package_name(spec: str) -> str:
    """The package a requirement line names, lower-cased ('pkg[extra]==1.2' -> 'pkg');
    plain string work, so that this runs on any Python before anything is installed."""
    return re.split(r"[\[<>=!~ ;]", spec.strip(), maxsplit=1)[0].lower()


def colab_lines(text: str) -> list[str]:
    """requirements.txt lines (comments dropped) whose package is not in NOT_ON_COLAB."""
    specs = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [spec for spec in specs if spec and package_name(spec) not in NOT_ON_COLAB]


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    sys.stdout.write("\n".join(colab_lines((root / "requirements.txt").read_text())) + "\n")
