"""Week 7's fine-tune on N processes, in one command:

    torchrun --nproc_per_node=N scripts/train_week7.py [--steps S] [--out DIR]

N GPUs of one machine (NCCL), or N processes on this CPU (gloo) to rehearse. The profile chooses the base, the data
and the config, as in the notebook; the plan for the GPUs (one GPU, DDP, or FSDP with QLoRA) is printed with its
reason. Every process trains on its own shard of each batch; rank 0 alone evaluates on the test items, logs and saves
the one adapter, while the others wait. When the plan needs FSDP, this script writes the Accelerate config and says
to launch with `accelerate launch --config_file <it> scripts/train_week7.py` instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.distributed import process_rank, train_data_parallel  # noqa: E402
from utils.errors import BadInputError  # noqa: E402
from utils.paths import cache_dir  # noqa: E402


def plan_for(config, world: int) -> str:
    """One sentence: how these processes train, and why; stops with a sentence where the plan needs FSDP."""
    from utils import finetune as ft
    from utils.catalog import model_facts
    from utils.hardware import current_gpu
    from utils.training_plan import plan_cluster, write_accelerate_config

    gpu = current_gpu()
    if gpu is None:
        return f"no GPU here: {world} process(es) on this CPU (gloo), rehearsing data parallelism (DDP)"
    repo = ft.BASE_MODELS[config.base] or "HuggingFaceTB/SmolLM2-135M-Instruct"
    facts = model_facts().set_index("model").loc[repo]
    plan = plan_cluster(gpu, world, float(facts["params_b"]), int(facts["layers"]))
    if plan.strategy.startswith("FSDP") and os.environ.get("ACCELERATE_USE_FSDP", "").lower() != "true":
        path = write_accelerate_config(plan, cache_dir("finetune") / "accelerate_fsdp.yaml")
        raise BadInputError(
            f"{plan.reason} FSDP is configured by Accelerate, not torchrun: run `accelerate launch --config_file "
            f"{path} scripts/train_week7.py`."
        )
    return f"{plan.strategy} on {world} x {gpu.name}: {plan.reason}"


def main(argv: list[str] | None = None) -> None:
    import torch
    import torch.distributed as dist

    from utils import fine_tuned
    from utils import finetune as ft
    from utils.evaluation import evaluate
    from utils.prices import load_price_data
    from utils.profile import get_profile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, help="optimiser steps (default: the profile's)")
    parser.add_argument("--out", type=Path, default=cache_dir("finetune", "distributed"), help="where rank 0 saves")
    parser.add_argument("--eval-items", type=int, help="test items rank 0 evaluates on (default: all)")
    args = parser.parse_args(argv)
    rank, world = process_rank()
    profile = get_profile()
    config = ft.config_for(profile)
    if args.steps:
        config = dataclasses.replace(config, max_steps=args.steps)
    if rank == 0:
        print(plan_for(config, world), flush=True)
    if world > 1:  # the processes meet here; Accelerate (inside the Trainer) takes this group over
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if rank != 0 and world > 1:
        dist.barrier()  # rank 0 builds the data set once; the others then read it from the cache
    data = load_price_data(profile)
    if rank == 0 and world > 1:
        dist.barrier()
    global_batch = max(world, config.batch_size * config.grad_accum // world * world)
    run = train_data_parallel(None, data.train, config, global_batch, args.out)
    if rank == 0:  # one evaluation, one log, one adapter: the others wait at the barrier below
        test = data.test[: args.eval_items] if args.eval_items else data.test
        report = evaluate(fine_tuned.PricePredictor(run["model"], run["tokenizer"]), test, "LoRA, data-parallel")
        print(report.summary(), flush=True)
        summary = {"world": world, "mae": report.mae, "n": report.n, "answered": report.answered}
        (Path(args.out) / "report.json").write_text(json.dumps(summary))
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    try:
        main()
    except BadInputError as err:  # a sentence, never a traceback from inside torch
        print(err, file=sys.stderr)
        sys.exit(2)
