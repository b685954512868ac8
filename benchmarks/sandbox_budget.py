"""The sandbox's write budget on this machine: how far past it a fast writer gets before the 10 ms check stops it,
and what the check costs a timed run (the start-up of an empty program, with and without the budget thread).

A program writes 40 files of 60 MB (each under the per-file limit) into its own folder, `--runs` times in each mode
that works here (bubblewrap; the fallback: limits plus Landlock where the kernel has it). Prints one table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from utils import sandbox as sb
from utils.sandbox import landlock

FLOOD = (
    "#include <cstdio>\n#include <cstring>\nint main(){ static char buf[1 << 20]; memset(buf, 1, sizeof buf);"
    ' for (int i = 0; i < 40; ++i) { char name[32]; snprintf(name, sizeof name, "f%d", i);'
    ' FILE* f = fopen(name, "wb"); if (!f) return 1; for (int m = 0; m < 60; ++m) fwrite(buf, 1, sizeof buf, f);'
    " fclose(f); } }"
)


def row(mode: str, runs: int) -> dict:
    """One mode: MB past the budget (max and median of runs) and the empty program's start-up with/without."""
    os.environ["LLMKIT_SANDBOX"] = "limits" if mode != "bubblewrap" else ""
    compiled = sb.compile_cpp(FLOOD)
    past = [sb.run_limited([str(compiled.binary)], timeout_s=60).wrote_mb - sb.Limits.disk_mb for _ in range(runs)]
    with_check = statistics.median(sb.sandbox_overhead(15) for _ in range(3))
    watch = sb._WriteBudget.run
    sb._WriteBudget.run = lambda self: None  # the same run with the budget thread idle
    try:
        without = statistics.median(sb.sandbox_overhead(15) for _ in range(3))
    finally:
        sb._WriteBudget.run = watch
    return {
        "mode": mode,
        "budget MB": sb.Limits.disk_mb,
        "MB past it (max)": round(max(past)),
        "MB past it (median)": round(statistics.median(past)),
        "empty program ms": round(with_check * 1e3, 1),
        "without the check ms": round(without * 1e3, 1),
    }


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    modes = (["bubblewrap"] if sb.isolation() == "bubblewrap" else []) + [f"fallback (Landlock ABI {landlock.abi()})"]
    print(f"{os.cpu_count()} cores; check every {sb.CHECK_EVERY_S * 1e3:.0f} ms; running as uid {os.geteuid()}")
    print(pd.DataFrame([row(mode, args.runs) for mode in modes]).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
