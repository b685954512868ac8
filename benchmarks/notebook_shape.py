"""How each notebook reads: the figures issue 46 sets targets for, printed as a table (nothing is asserted).

    python benchmarks/notebook_shape.py                 # every week*/*.ipynb
    python benchmarks/notebook_shape.py week7/01_fine_tuning.ipynb

Per notebook: code cells, the median and the longest code cell (lines, blank lines left out), cells over 25 lines,
lines over 100 characters, the share of code lines that report (a `print`, `check` or `display` call, or a line
inside one), checks, and the kit's machinery in sight: cells that import `utils.standins` or name the rehearsal.
Targets (issue 46): median at most 10 lines, none over 25, lines within 100 characters, reporting lines near
rasbt/LLMs-from-scratch's 11-14%, no stand-in or rehearsal in a notebook.
"""

from __future__ import annotations

import ast
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTING = ("print", "check", "display")
LONG_CELL, WIDE_LINE = 25, 100


def reporting_lines(source: str) -> int:
    """Lines of the cell that belong to a top-level print/check/display call (a call over three lines counts 3)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a cell with shell or magic lines: count nothing rather than guess
        return 0
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in REPORTING:
            lines |= set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return len(lines)


def shape(path: Path) -> dict[str, object]:
    """The figures of one notebook."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in cells]
    lengths = [sum(bool(line.strip()) for line in s.splitlines()) for s in sources]
    code_lines = [line for s in sources for line in s.splitlines() if line.strip()]
    return {
        "notebook": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
        "code cells": len(cells),
        "median lines": statistics.median(lengths) if lengths else 0,
        "longest": max(lengths, default=0),
        f"over {LONG_CELL} lines": sum(n > LONG_CELL for n in lengths),
        f"lines over {WIDE_LINE} chars": sum(len(line) > WIDE_LINE for line in code_lines),
        "reporting share": round(sum(map(reporting_lines, sources)) / max(len(code_lines), 1), 3),
        "checks": sum(s.count("check(") for s in sources),
        "stand-ins or rehearsal": sum("utils.standins" in s or "rehears" in s.lower() for s in sources),
    }


def main(argv: list[str] | None = None) -> int:
    """Print one row per notebook (every week*/*.ipynb when none is named)."""
    names = sys.argv[1:] if argv is None else argv
    paths = [Path(n).resolve() for n in names] or sorted(ROOT.glob("week*/*.ipynb"))
    rows = [shape(p) for p in paths]
    header = list(rows[0]) if rows else []
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in header) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
