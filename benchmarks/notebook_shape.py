"""How each notebook reads: the figures issue 46 sets targets for, printed as a table (nothing is asserted).

    python benchmarks/notebook_shape.py                 # every week*/*.ipynb
    python benchmarks/notebook_shape.py week7/01_fine_tuning.ipynb
    python benchmarks/notebook_shape.py --build /tmp/run    # silent cells read from another executed copy

Per notebook: code cells, the median and the longest code cell (lines, blank lines left out), cells over 25 lines,
lines over 100 characters, the share of code lines that report (a `print`, `check` or `display` call, or a line
inside one), checks, the kit's machinery in sight (cells that import `utils.standins` or name the rehearsal), and,
from the executed copy `make run` wrote to build/ (`--build DIR` for another), the cells after the Colab cell that
printed nothing ("-" where no executed copy is there). Targets (issue 46): median at most 10 lines, none over 25,
lines within 100 characters, reporting lines near rasbt/LLMs-from-scratch's 11-14%, no stand-in or rehearsal in a
notebook, no silent cell.
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


def silent_cells(executed: Path) -> int | str:
    """Code cells after the first (the Colab set-up, which acts on Colab only) that printed nothing in an executed
    copy; "-" when there is none."""
    if not executed.exists():
        return "-"
    cells = [c for c in json.loads(executed.read_text())["cells"] if c["cell_type"] == "code"]
    return sum(not c.get("outputs") for c in cells[1:])


def shape(path: Path, build: Path = ROOT / "build") -> dict[str, object]:
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
        "silent cells": silent_cells(build / path.parent.name / path.name),
    }


def main(argv: list[str] | None = None) -> int:
    """Print one row per notebook (every week*/*.ipynb when none is named)."""
    names = list(sys.argv[1:] if argv is None else argv)
    build = ROOT / "build"
    if "--build" in names:
        at = names.index("--build")
        build, names = Path(names[at + 1]).resolve(), names[:at] + names[at + 2 :]
    paths = [Path(n).resolve() for n in names] or sorted(ROOT.glob("week*/*.ipynb"))
    rows = [shape(p, build) for p in paths]
    header = list(rows[0]) if rows else []
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in header) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
