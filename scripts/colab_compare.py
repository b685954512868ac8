"""Helpers of scripts/colab_standin.sh. `colab_compare.py closure REPORT PINS`: the packages a pip --report would
install that Colab already has (names, one line). `colab_compare.py changes OUT`: OUT/CHANGES.md from before.txt and
after.txt, exiting non-zero if the set-up moved a package Colab runs on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from packaging.utils import canonicalize_name

PROTECTED = {"ipykernel", "jupyter-client", "notebook", "tornado", "ipywidgets", "widgetsnbextension", "torch"}


def key(name: str) -> str:
    """A package name as pip compares them (PEP 503)."""
    return canonicalize_name(name)


def pins(path: Path) -> dict[str, str]:
    """name -> version from a freeze-style file (comment lines skipped)."""
    lines = path.read_text().splitlines()
    return {key(a): b for a, b in (line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))}


def closure(report: Path, pin_file: Path) -> str:
    """The report's packages that Colab has, space-separated."""
    names = {key(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]}
    return " ".join(sorted(names & set(pins(pin_file))))


def changes(out: Path) -> int:
    """Write CHANGES.md; 1 when a protected package moved."""
    before, after = pins(out / "before.txt"), pins(out / "after.txt")
    moved = [(n, before[n], after[n]) for n in sorted(before) if n in after and after[n] != before[n]]
    added = [(n, after[n]) for n in sorted(after) if n not in before]
    lines = [
        f"# What the kit's Colab set-up changes in Colab's runtime (stand-in: Python {sys.version.split()[0]}, "
        "Colab's versions from shared/colab/pip-freeze.gpu.txt)",
        "",
        f"{len(moved)} upgraded or downgraded, {len(added)} added; nothing removed.",
        "",
        "| package | Colab has | after the set-up |",
        "|---|---|---|",
    ]
    lines += [f"| {n} | {old} | {new} |" for n, old, new in moved]
    lines += ["", "Added (Colab has none of them): " + ", ".join(f"{n} {v}" for n, v in added)]
    (out / "CHANGES.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    touched = [n for n, _, _ in moved if n in PROTECTED]
    if touched:
        print(f"the Colab set-up changed packages Colab runs on: {', '.join(touched)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "closure":
        print(closure(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(changes(Path(sys.argv[2])))
