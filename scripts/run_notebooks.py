"""The main job: execute every notebook on the current profile and write the executed copies and a summary to build/."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"


def run(path: Path, timeout_s: int = 1200) -> tuple[bool, float, str]:
    """Execute one notebook in its own folder; save the executed copy under build/ even when a cell fails."""
    nb = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}
    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3", resources=resources)
    start = time.perf_counter()
    ok, error = True, ""
    try:
        client.execute()
    except CellExecutionError as err:
        ok, error = False, str(err).strip().splitlines()[-1][:200]
    seconds = time.perf_counter() - start
    out = BUILD / path.relative_to(ROOT)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return ok, seconds, error


def main() -> int:
    notebooks = sorted(ROOT.glob("week*/*.ipynb"))
    rows = []
    for path in notebooks:
        name = str(path.relative_to(ROOT))
        print(f"running {name} ...", flush=True)
        ok, seconds, error = run(path)
        print(f"  {'ok' if ok else 'FAILED'} in {seconds:.0f}s {error}", flush=True)
        rows.append((name, seconds, ok, error))
    lines = ["# Notebook run summary", "", "| notebook | seconds | result |", "|---|---:|---|"]
    lines += [f"| {n} | {s:.0f} | {'ok' if ok else 'failed: ' + e} |" for n, s, ok, e in rows]
    lines += ["", f"total: {sum(r[1] for r in rows):.0f}s, {sum(r[2] for r in rows)}/{len(rows)} ok"]
    BUILD.mkdir(exist_ok=True)
    (BUILD / "SUMMARY.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r[2] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
