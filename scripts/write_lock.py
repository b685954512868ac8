"""Write constraints.txt from this venv: every installed version, pinned, with its release's own Python range as an
environment marker where that range leaves out a Python the kit supports (pyproject's requires-python). A student
whose Python is older than a release needs (Debian 12's 3.11.2 against soupsieve 4.1.3's ">=3.11.5") then gets the
newest release that runs on theirs instead of an install that cannot resolve; everyone else gets exactly what CI
passed with."""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import distributions
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

# Debian 12 ships 3.11.2, Ubuntu 24.04 3.12.3
PYTHONS = ["3.11.0", "3.11.2", "3.11.4", "3.12.0", "3.12.3", "3.13.0", "3.14.0"]
KIT = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
SUPPORTED = [v for v in PYTHONS if SpecifierSet(KIT["requires-python"]).contains(v)]
SKIP = {"llm-engineering-kit", "pip", "setuptools", "wheel"}


def pin(name: str, version: str, requires_python: str | None) -> str:
    """One constraint line: name==version, with the release's Python range as a marker when it matters. A local
    version label is dropped (torch 2.13.0+cpu from a wheel folder pins torch==2.13.0, which the index's CPU build,
    2.13.0, satisfies too: a pin with the label cannot be met from the package index)."""
    line = f"{name}=={version.split('+')[0]}"
    spec = SpecifierSet(requires_python or "")
    if all(spec.contains(v) for v in SUPPORTED):
        return line
    marker = " and ".join(f'python_full_version {s.operator} "{s.version}"' for s in sorted(spec, key=str))
    return f"{line} ; {marker}"


def lines() -> list[str]:
    """The lock's lines for every distribution installed here, sorted by name."""
    seen = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if canonicalize_name(name) in SKIP:  # the kit itself (installed editable) and the installers
            continue
        seen[canonicalize_name(name)] = pin(name, dist.version, dist.metadata.get("Requires-Python"))
    return [seen[key] for key in sorted(seen)]


if __name__ == "__main__":
    sys.stdout.write("".join(line + "\n" for line in lines()))
