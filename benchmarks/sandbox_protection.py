"""What each layer of the fallback sandbox costs on this machine: Landlock (writes only, then reads as well) and the
seccomp filter, against resource limits alone; then the fallback and bubblewrap as `run_limited` runs a program (with
its write-budget thread and its output files).

Three programs, each run `--runs` times per layer: an empty one (the start-up every timing subtracts), week 5's kind
of program (a pi series of 200M terms: arithmetic, no system calls), and a busy one that makes a million cheap system
calls (each passes the seccomp filter) and opens a system file 20,000 times (each open is checked by Landlock).
Prints one table of medians, and the kernel's Landlock ABI.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from utils import sandbox as sb
from utils.sandbox import landlock, seccomp

EMPTY = "int main() { return 0; }\n"
COMPUTE = (
    "#include <cstdio>\nint main(){ double s = 0; for (long k = 0; k < 200000000; ++k)"
    ' s += (k % 2 ? -4.0 : 4.0) / (2 * k + 1); printf("%.6f\\n", s); }\n'
)
BUSY = (
    "#include <fcntl.h>\n#include <unistd.h>\nint main(){ long s = 0; for (int i = 0; i < 1000000; ++i) s += getppid();"
    ' for (int i = 0; i < 20000; ++i) { int fd = open("/usr/lib/os-release", O_RDONLY); if (fd >= 0) close(fd); }'
    " return s == 0; }\n"
)
LAYERS = ["limits only", "+ Landlock, writes", "+ Landlock, reads too", "+ seccomp (the fallback)"]


def run_once(binary: str, layer: str) -> float:
    """Wall seconds of one run under the layer; the fallback's layers are built as run_limited builds them."""
    if layer in ("fallback, as week 5 runs it", "bubblewrap, as week 5 runs it"):  # run_limited: its budget thread too
        os.environ["LLMKIT_SANDBOX"] = "limits" if layer.startswith("fallback") else ""
        res = sb.run_limited([binary], timeout_s=30)
        assert res.ok, res.problem()
        return res.seconds
    folder = sb.new_folder("llmkit-run-")
    rules, syscalls, keep = None, None, None
    if layer != "limits only":
        readable = ["/"] if layer == "+ Landlock, writes" else [*sb.FALLBACK_READABLE, os.path.dirname(binary)]
        rules = landlock.ruleset([str(folder), os.devnull], readable)
    if layer == "+ seccomp (the fallback)":
        syscalls, keep = seccomp.prepared()
    limiter = sb._limiter(sb.Limits(), False, rules, syscalls)
    start = time.perf_counter()
    proc = subprocess.run(
        [binary], cwd=folder, env=sb.safe_env(), preexec_fn=limiter, start_new_session=True, stdout=subprocess.DEVNULL
    )
    seconds = time.perf_counter() - start
    if rules is not None:
        os.close(rules)
    del keep
    sb.remove_folder(folder)
    assert proc.returncode == 0, f"{layer}: exit {proc.returncode}"
    return seconds


def main(argv: list[str] | None = None) -> int:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    if not landlock.abi() or not seccomp.available():
        print(f"no Landlock (ABI {landlock.abi()}) or no seccomp here: nothing to compare")
        return 0
    empty, compute, busy = (str(sb.compile_cpp(code).binary) for code in (EMPTY, COMPUTE, BUSY))
    layers = LAYERS + ["fallback, as week 5 runs it"] + (["bubblewrap, as week 5 runs it"] if sb.bwrap_path() else [])
    programs = {"empty": empty, "pi series": compute, "busy": busy}
    times: dict[tuple[str, str], list[float]] = {(layer, name): [] for layer in layers for name in programs}
    for i in range(args.runs + 1):  # the layers take turns, so a machine that slows down slows them all alike
        for layer in layers:
            for name, binary in programs.items():
                seconds = run_once(binary, layer)
                if i:  # the first round warms up
                    times[layer, name].append(seconds)
    table = pd.DataFrame(
        [
            {"layer": layer, **{f"{n} ms": statistics.median(times[layer, n]) * 1e3 for n in programs}}
            for layer in layers
        ]
    )
    for name in ("pi series", "busy"):
        table[f"{name}, over limits only"] = table[f"{name} ms"] / table.loc[0, f"{name} ms"]
    print(f"{os.cpu_count()} cores; Landlock ABI {landlock.abi()}; uid {os.geteuid()}; median of {args.runs} runs")
    print(table.to_string(index=False, float_format="{:.2f}".format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
