"""Rebuild data/open_llm_leaderboard.csv from the Open LLM Leaderboard v2 archive kept by EvalEval.

The leaderboard (Hugging Face, 2024-2025) is archived record by record in github.com/evaleval/every_eval_ever
(`data/hfopenllm_v2/<org>/<model>/<uuid>.json`, raw accuracies 0-1 for six benchmarks). This script reads the
rows the course uses from a local clone at a fixed commit, so the shipped table can be regenerated and checked (it
also checks each model's size in data/model_facts.csv against the size the leaderboard recorded):

    git clone https://github.com/evaleval/every_eval_ever && python scripts/leaderboard_rows.py every_eval_ever
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

COMMIT = "c8b8fd6ed97dc2b4a64d1ff2132d0feed7e02ac0"  # 2026-02-11, the last commit before the data moved out
# (model id, type, base model); each model's size and tokenizer live in data/model_facts.csv
ROWS = [
    ("meta-llama/Llama-3.1-8B", "base", ""),
    ("meta-llama/Llama-3.1-8B-Instruct", "instruct", "meta-llama/Llama-3.1-8B"),
    ("meta-llama/Meta-Llama-3-8B", "base", ""),
    ("meta-llama/Meta-Llama-3-8B-Instruct", "instruct", "meta-llama/Meta-Llama-3-8B"),
    ("meta-llama/Llama-3.2-3B", "base", ""),
    ("meta-llama/Llama-3.2-3B-Instruct", "instruct", "meta-llama/Llama-3.2-3B"),
    ("Qwen/Qwen2.5-7B", "base", ""),
    ("Qwen/Qwen2.5-7B-Instruct", "instruct", "Qwen/Qwen2.5-7B"),
    ("Qwen/Qwen2-7B", "base", ""),
    ("Qwen/Qwen2-7B-Instruct", "instruct", "Qwen/Qwen2-7B"),
    ("Qwen/Qwen2.5-3B", "base", ""),
    ("Qwen/Qwen2.5-3B-Instruct", "instruct", "Qwen/Qwen2.5-3B"),
    ("google/gemma-2-9b", "base", ""),
    ("google/gemma-2-9b-it", "instruct", "google/gemma-2-9b"),
    ("google/gemma-7b", "base", ""),
    ("google/gemma-7b-it", "instruct", "google/gemma-7b"),
    ("mistralai/Mistral-7B-v0.3", "base", ""),
    ("mistralai/Mistral-7B-Instruct-v0.3", "instruct", "mistralai/Mistral-7B-v0.3"),
    ("01-ai/Yi-1.5-9B", "base", ""),
    ("01-ai/Yi-1.5-9B-Chat", "instruct", "01-ai/Yi-1.5-9B"),
    ("ibm-granite/granite-3.0-8b-base", "base", ""),
    ("ibm-granite/granite-3.0-8b-instruct", "instruct", "ibm-granite/granite-3.0-8b-base"),
    ("tiiuae/Falcon3-7B-Base", "base", ""),
    ("tiiuae/Falcon3-7B-Instruct", "instruct", "tiiuae/Falcon3-7B-Base"),
    ("allenai/OLMo-7B-hf", "base", ""),
    ("allenai/OLMo-7B-Instruct-hf", "instruct", "allenai/OLMo-7B-hf"),
    ("HuggingFaceTB/SmolLM2-1.7B", "base", ""),
    ("HuggingFaceTB/SmolLM2-1.7B-Instruct", "instruct", "HuggingFaceTB/SmolLM2-1.7B"),
    ("HuggingFaceTB/SmolLM2-135M", "base", ""),
    ("HuggingFaceTB/SmolLM2-135M-Instruct", "instruct", "HuggingFaceTB/SmolLM2-135M"),
]
# Two families across sizes for week 4's emergence plot: Pythia (every size trained on the same 300B tokens of the
# Pile) and Qwen2.5 base (18T tokens). Qwen2.5-7B is also a course row above: one row, both roles.
FAMILIES = {
    "Pythia": [f"EleutherAI/pythia-{s}" for s in ("160m", "410m", "1b", "1.4b", "2.8b", "6.9b", "12b")],
    "Qwen2.5": [f"Qwen/Qwen2.5-{s}" for s in ("0.5B", "1.5B", "3B", "7B", "14B", "32B", "72B")],
}
BENCHMARKS = {
    "IFEval": "ifeval",
    "BBH": "bbh",
    "MATH Level 5": "math_lvl5",
    "GPQA": "gpqa",
    "MUSR": "musr",
    "MMLU-PRO": "mmlu_pro",
}


def git(repo: Path, *args: str) -> str:
    """Output of a git command in repo."""
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def main(repo: Path, out: Path) -> None:
    """Write one row per model in ROWS and FAMILIES, from the first archived record of it at COMMIT."""
    paths = git(repo, "ls-tree", "-r", "--name-only", COMMIT, "data/hfopenllm_v2/").split()
    fields = ["model", "type", "base_model", *BENCHMARKS.values(), "course", "family"]
    fields += ["retrieved", "source"]
    family_of = {model: family for family, models in FAMILIES.items() for model in models}
    course = {row[0] for row in ROWS}
    rows = ROWS + [(model, "base", "") for model in family_of if model not in course]
    with (out.parent / "model_facts.csv").open() as f:
        sizes = {row["model"]: float(row["params_b"]) for row in csv.DictReader(f)}
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for model, kind, base in rows:
            path = sorted(p for p in paths if p.startswith(f"data/hfopenllm_v2/{model}/"))[0]
            record = json.loads(git(repo, "show", f"{COMMIT}:{path}"))
            scores = {
                BENCHMARKS[r["evaluation_name"]]: r["score_details"]["score"] for r in record["evaluation_results"]
            }
            recorded = float(record["model_info"]["additional_details"]["params_billions"])
            if model not in sizes or abs(sizes[model] - recorded) > 0.03 * recorded:
                print(f"check data/model_facts.csv: {model} {sizes.get(model)} B, the leaderboard recorded {recorded}")
            retrieved = datetime.fromtimestamp(float(record["retrieved_timestamp"]), UTC).date()
            writer.writerow(
                {
                    "model": model,
                    "type": kind,
                    "base_model": base,
                    **scores,
                    "course": "yes" if model in course else "",
                    "family": family_of.get(model, ""),
                    "retrieved": retrieved.isoformat(),
                    "source": f"github.com/evaleval/every_eval_ever/blob/{COMMIT[:12]}/{path}",
                }
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent.parent / "data" / "open_llm_leaderboard.csv")
