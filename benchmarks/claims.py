"""The claims table: every notebook run under the variations students' machines bring, and each check counted.

    python benchmarks/claims.py      # every variation (about 40 minutes on 2 cores): benchmarks/claims.md
    python benchmarks/claims.py --only seed-7 threads-1

Each variation runs all the notebooks on the offline profile (`scripts/run_notebooks.py --claims`), which writes every
check a notebook makes to a file. The table lists each claim, whether it is about the kit (exact) or about a model's
quality (statistical), and in how many runs it held; then each notebook's time in each run. A model-quality claim is
asserted in a notebook only where it held in every run; a claim that failed anywhere belongs in the notebook as a
printed measurement, not a check.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# what differs between students' machines, one variation each: the server's threads (how llama.cpp sums),
# torch's kernels (a CPU without AVX-512), Colab's backend (no llama.cpp), and another seed
VARIATIONS = {
    "seed-7": {"LLMKIT_SEED": "7"},
    "transformers": {"LLMKIT_LOCAL_BACKEND": "transformers"},
    "threads-1-avx2": {"LLMKIT_LOCAL_THREADS": "1", "LLMKIT_LOCAL_BATCH_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2"},
    "threads-2": {"LLMKIT_LOCAL_THREADS": "2", "LLMKIT_LOCAL_BATCH_THREADS": "2"},
}


def run_variation(name: str, env: dict[str, str], notebooks: list[str]) -> Path:
    """Execute the notebooks with the variation's settings; return the folder with its claims and times."""
    out = Path("build") / "claims" / name
    print(f"== {name}: {' '.join(f'{k}={v}' for k, v in env.items())}", flush=True)
    full_env = {**os.environ, "LLMKIT_PROFILE": "offline", **env}
    cmd = [sys.executable, "scripts/run_notebooks.py", "--claims", "--out", str(out), *notebooks]
    subprocess.run(cmd, cwd=ROOT, env=full_env, check=False)
    return ROOT / out


def key(sentence: str) -> str:
    """A claim's sentence with its measured numbers blanked, so runs that measured different values line up."""
    return re.sub(r"\d[\d,.]*", "#", sentence)


def table(folders: dict[str, Path]) -> str:
    """The markdown table: each claim and the runs it held in, then each notebook's seconds per run."""
    claims: dict[tuple[str, str], dict] = {}
    for run, folder in folders.items():
        for log in sorted((folder / "claims").glob("*.jsonl")):
            for line in log.read_text().splitlines():
                row = json.loads(line)
                entry = claims.setdefault(
                    (log.stem, key(row["sentence"])), {"quality": row["quality"], "held": [], "failed": []}
                )
                entry["held" if row["held"] else "failed"].append(run)
    lines = ["| notebook | kind | claim | held in | failed in |", "|---|---|---|---:|---|"]
    for (notebook, sentence), entry in sorted(claims.items()):
        kind = "model quality" if entry["quality"] else "kit (exact)"
        held = f"{len(entry['held'])} of {len(entry['held']) + len(entry['failed'])}"
        lines.append(f"| {notebook} | {kind} | {sentence.replace('|', '/')} | {held} | {', '.join(entry['failed'])} |")
    failing = sum(1 for entry in claims.values() if entry["failed"])
    lines += ["", f"{len(claims)} claims; {failing} failed in at least one run.", ""]
    times = {
        run: json.loads((folder / "times.json").read_text())
        for run, folder in folders.items()
        if (folder / "times.json").exists()
    }
    names = sorted({n for t in times.values() for n in t})
    lines += ["| notebook | " + " | ".join(times) + " |", "|---|" + "---:|" * len(times)]
    for n in names:
        cells = [f"{t[n]['seconds']:.0f}" + ("" if t[n]["ok"] else " FAILED") if n in t else "" for t in times.values()]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    totals = [f"{sum(r['seconds'] for r in t.values()):.0f}" for t in times.values()]
    lines.append("| all | " + " | ".join(totals) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=list(VARIATIONS), help="run these variations only")
    parser.add_argument("--table-only", action="store_true", help="rebuild the table from the last runs' files")
    parser.add_argument("notebooks", nargs="*", help="notebooks (default: all)")
    args = parser.parse_args()
    chosen = args.only or list(VARIATIONS)
    folders = {}
    for name in chosen:
        folders[name] = (
            ROOT / "build" / "claims" / name
            if args.table_only
            else run_variation(name, VARIATIONS[name], args.notebooks)
        )
    text = table(folders)
    header = (
        "# Claims table (`make claims`)\n\nEach notebook run under each variation "
        f"({', '.join(f'`{n}`: ' + ' '.join(f'{k}={v}' for k, v in VARIATIONS[n].items()) for n in chosen)}), "
        f"on {os.cpu_count()} cores. Numbers in a sentence are blanked (#): runs measure different values.\n\n"
    )
    (ROOT / "benchmarks" / "claims.md").write_text(header + text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
