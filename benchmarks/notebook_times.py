"""How long each notebook takes on this machine, quiet and with one other CPU-bound process running.

Goal (offline profile, 2 cores): each notebook at most 3 minutes and all five at most 10 quiet; with one other
CPU-bound process running, no notebook more than 2x its quiet time. Prints the table and the slowest cells; a
regression shows as a number here, never as a timed test. `--quiet-only` skips the busy run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import run_notebooks  # noqa: E402

GOAL_EACH_S, GOAL_ALL_S, GOAL_BUSY_RATIO = 180, 600, 2.0


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def timed_run(notebooks: list[Path], busy: bool) -> dict[str, tuple[float, bool, list]]:
    """Run every notebook in a fresh cache (as a new student would), with a CPU hog beside it when busy."""
    hog = mp.Process(target=_spin, args=(3600,), daemon=True) if busy else None
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["LLMKIT_CACHE"] = cache
        if hog:
            hog.start()
        try:
            for path in notebooks:
                ok, seconds, error, nb = run_notebooks.run(path, Path(cache) / "build")
                out[str(run_notebooks.relative(path))] = (seconds, ok, run_notebooks.slowest_cells(nb, 2))
                print(f"  {'busy' if busy else 'quiet'} {path.name}: {seconds:.0f}s {'' if ok else error}", flush=True)
        finally:
            if hog:
                hog.terminate()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quiet-only", action="store_true")
    args = parser.parse_args(argv)
    notebooks = sorted(run_notebooks.ROOT.glob("week*/*.ipynb"))
    quiet = timed_run(notebooks, busy=False)
    busy = {} if args.quiet_only else timed_run(notebooks, busy=True)
    print(
        f"\n{os.cpu_count()} cores · goal: each <= {GOAL_EACH_S}s, all <= {GOAL_ALL_S}s quiet, "
        f"busy <= {GOAL_BUSY_RATIO}x quiet\n"
    )
    print("| notebook | quiet s | busy s | busy / quiet | slowest cells (quiet) |\n|---|---:|---:|---:|---|")
    for name, (seconds, ok, slow) in quiet.items():
        b = busy.get(name, (float("nan"), True, []))[0]
        cells = "; ".join(f"cell {i} {s:.0f}s" for i, s, _ in slow)
        print(f"| {name} | {seconds:.0f}{'' if ok else ' (failed)'} | {b:.0f} | {b / seconds:.2f} | {cells} |")
    total_q = sum(v[0] for v in quiet.values())
    total_b = sum(v[0] for v in busy.values()) if busy else float("nan")
    print(f"| all | {total_q:.0f} | {total_b:.0f} | {total_b / total_q:.2f} | |")
    meets = all(v[0] <= GOAL_EACH_S for v in quiet.values()) and total_q <= GOAL_ALL_S
    if busy:
        meets = meets and all(busy[n][0] <= GOAL_BUSY_RATIO * quiet[n][0] for n in quiet)
    print(f"\n{'meets' if meets else 'MISSES'} the goal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
