"""Week 5 benchmark: every program through the pipeline on the current profile; table (CSV) and plot in build/.

Target: the people-written C++ of the pi series runs at least 100x faster than CPython on this machine, measured in
this run. Exit code 1 when it does not.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from utils import codegen as cg  # noqa: E402
from utils import setup  # noqa: E402
from utils.paths import ROOT  # noqa: E402

TARGET = 100.0


def main() -> int:
    profile = setup()
    sizes = {"pi_series": max(profile.sizes.pi_iterations, 50_000_000), "max_subarray": profile.sizes.maxsub_n}
    runs, rows = profile.sizes.timing_runs, []
    for name, n in sizes.items():
        py, cpp = cg.course_program(name, n)
        ref = cg.python_reference(name, py, runs=runs)
        human = cg.time_conversion(cg.check_conversion(ref, cpp, cg.HUMAN), runs=runs)
        rows.append({**cg.results_row(ref, human), "size": n})
        for model in profile.code_models:
            conv = cg.time_conversion(cg.convert(model, ref, rounds=profile.sizes.repair_rounds), runs=runs)
            rows.append({**cg.results_row(ref, conv), "size": n})
    table = pd.DataFrame(rows)
    out = ROOT / "build" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "week5_codegen.csv", index=False)
    with pd.option_context("display.width", 200):
        print(table.drop(columns=["last_problem"]).round(4).to_string(index=False))
    ok = table[table["correct"]]
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.barh(ok["program"] + " · " + ok["model"], ok["speedup"], color="seagreen")
    ax.axvline(TARGET, color="red", ls="--", label=f"{TARGET:.0f}x target (pi series, human reference)")
    ax.set(xscale="log", xlabel="speed-up over CPython")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "week5_codegen.png", dpi=120)
    sandbox_honesty()
    human_pi = table[(table["program"] == "pi_series") & table["model"].str.startswith("human")]["speedup"].iloc[0]
    verdict = "meets" if human_pi >= TARGET else "MISSES"
    print(f"\npi series, human reference: {human_pi:.0f}x over CPython ({verdict} the {TARGET:.0f}x target)")
    print(f"wrote {out / 'week5_codegen.csv'} and {out / 'week5_codegen.png'}")
    return 0 if human_pi >= TARGET else 1


def sandbox_honesty() -> None:
    """The sandbox's start-up cost, and proof it is kept out: an empty program, and programs that time themselves."""
    from utils import sandbox as sb

    print(f"\n{sb.describe_protection()}")
    empty = sb.time_command([str(sb.compile_cpp("int main() { return 0; }").binary)], runs=7)
    print(f"sandbox start-up {empty.overhead_s * 1000:.2f} ms (subtracted); empty program {empty.median * 1000:.2f} ms")
    for ms in (50, 200, 1000):
        exe = sb.compile_cpp(
            "#include <chrono>\n#include <cstdio>\nint main(){ auto t0 = std::chrono::steady_clock::now();"
            " volatile double s = 0; while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds("
            f'{ms})) s += 1; printf("%f\\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)'
            ".count()); }"
        ).binary
        own = float(sb.run_limited([str(exe)]).stdout)
        measured = sb.time_command([str(exe)], runs=5).median
        print(
            f"program that runs {ms} ms by its own clock ({own * 1000:.1f} ms): "
            f"sandbox measures {measured * 1000:.1f} ms"
        )


if __name__ == "__main__":
    sys.exit(main())
