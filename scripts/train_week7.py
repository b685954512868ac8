"""Week 7's fine-tune on the GPUs its plan needs: one entry point for one GPU, DDP, and FSDP with QLoRA.

    python scripts/train_week7.py [--gpu KIND] [--gpus N] [--base MODEL] [--steps S] [--out DIR] [--merge]

The profile chooses the base, the data and the config, as in the notebook. With a GPU (this machine's, or the kind
--gpu names, N of them: --gpus, else the processes launched, else the GPUs here), the plan comes first:
training_plan.plan_cluster chooses one GPU, DDP (a copy fits each card) or FSDP with QLoRA (no card holds the model),
and the config for each GPU follows from that plan. The plan is printed with its reason. Where this run is the plan's
(as many processes as it plans, its GPUs here, and started with the FSDP config exactly when it shards), every process
trains on its own shard of each batch; rank 0 alone evaluates on the test items (not under FSDP, where no process
holds the whole model), logs, and saves the one adapter (and with --merge, merges it: refused for an FSDP plan).
Otherwise the script writes the plan's Accelerate config, prints the exact command that launches it, and exits 0
having trained nothing. Without a GPU and without --gpu, N processes rehearse DDP on this CPU (gloo):

    torchrun --nproc_per_node=N scripts/train_week7.py [--steps S]

Exit codes: 0 trained, or planned with the launch command printed; 2 a sentence says what cannot run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils import hardware  # noqa: E402
from utils import training as ft  # noqa: E402
from utils.distributed import (  # noqa: E402
    MERGE_UNDER_FSDP,
    accelerate_command,
    fsdp_launched,
    process_rank,
    train_data_parallel,
)
from utils.errors import BadInputError  # noqa: E402
from utils.hardware import GPU  # noqa: E402
from utils.paths import cache_dir  # noqa: E402
from utils.training_plan import ClusterPlan, write_accelerate_config  # noqa: E402

SCRIPT = Path(__file__).resolve()


def plan_run(profile: Any, gpu: GPU | None, gpus: int, base: str | None = None) -> tuple[ClusterPlan | None, Any]:
    """(the plan, the config it shapes), the plan made first: for `gpus` cards of a kind, plan_cluster, whose
    per-GPU set-up is the config's (under FSDP no one card holds the model, so plan_training on one card is never
    asked); without a GPU, or on the offline profile (its stand-in's config is its own), no plan."""
    if profile.offline or gpu is None:
        return None, ft.config_for(profile, base=base)
    key = ft.full_base(base)
    plan = ft.plan_gpus(key, gpu, gpus)
    return plan, ft.config_for(profile, base=key, plan=plan)


def runs_here(plan: ClusterPlan, world: int) -> bool:
    """True where this process is one of the plan's: as many processes as it plans, that many GPUs here, started
    with Accelerate's FSDP config exactly when the plan shards."""
    import torch

    return world == plan.processes and torch.cuda.device_count() >= plan.processes and fsdp_launched() == plan.fsdp


def describe(plan: ClusterPlan, gpu: GPU) -> str:
    """The plan in two lines: strategy and why; what each GPU runs."""
    each = plan.per_device
    storage = f", 4-bit weights stored in {each.compute_dtype} (FSDP shards float tensors only)" if plan.fsdp else ""
    offload = ", shards kept in CPU memory between uses" if plan.cpu_offload else ""
    return (
        f"{plan.strategy} on {plan.processes} x {gpu.name}: {plan.reason}\n"
        f"each GPU: {each.mode} LoRA in {each.compute_dtype}, batch {each.batch_size} x {each.grad_accum} "
        f"accumulated, about {plan.memory_gb_per_gpu:.0f} GB{storage}{offload}"
    )


def launch_advice(plan: ClusterPlan, world: int, argv: list[str]) -> str:
    """Write the plan's Accelerate config; say why nothing trains here and the exact command that launches the plan."""
    import torch

    name = {"one GPU": "one_gpu", "DDP": "ddp", "FSDP + QLoRA": "fsdp"}[plan.strategy]
    path = write_accelerate_config(plan, cache_dir("finetune") / f"accelerate_{name}.yaml")
    here = f"{torch.cuda.device_count()} GPU(s) here, {world} process(es){' under FSDP' if fsdp_launched() else ''}"
    return (
        f"Nothing trained ({here}): the plan runs as {plan.processes} process(es), one per GPU, launched by Accelerate "
        f"with the config written to {path}. Launch it with:\n{shlex.join(accelerate_command(path, SCRIPT, *argv))}"
    )


def merge(adapter: Path, tok: Any) -> Path:
    """The saved adapter merged into its base (loaded whole, in the dtype of its files): a folder beside it."""
    from utils import fine_tuned

    return fine_tuned.merged_folder(adapter, tok)


def main(argv: list[str] | None = None) -> int:
    """Plan, then train where this run is the plan's, else print how to launch it; the exit code (0)."""
    import torch
    import torch.distributed as dist

    from utils import fine_tuned
    from utils.evaluation import evaluate
    from utils.prices import load_price_data
    from utils.profile import get_profile

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpu", choices=list(hardware.GPUS), help="plan for this kind of card (default: this GPU)")
    parser.add_argument("--gpus", type=int, help="how many cards (default: the processes launched, else the GPUs)")
    parser.add_argument("--base", help="the full profile's base model, a Hugging Face id (default: the profile's)")
    parser.add_argument("--steps", type=int, help="optimiser steps (default: the profile's)")
    parser.add_argument("--out", type=Path, default=cache_dir("finetune", "distributed"), help="where rank 0 saves")
    parser.add_argument("--eval-items", type=int, help="test items rank 0 evaluates on (default: all)")
    parser.add_argument("--merge", action="store_true", help="merge the adapter into its base after training")
    args = parser.parse_args(argv)
    rank, world = process_rank()
    gpu = hardware.GPUS[args.gpu] if args.gpu else hardware.current_gpu()
    if args.gpus is not None and args.gpus < 1:
        raise BadInputError(f"--gpus must be at least 1, got {args.gpus}.")
    if args.gpus and gpu is None:
        raise BadInputError(f"--gpus plans GPUs of one kind: name it with --gpu ({', '.join(hardware.GPUS)}).")
    gpus = args.gpus or (world if world > 1 else max(1, torch.cuda.device_count()))
    profile = get_profile()
    if profile.offline and (args.gpu or args.gpus or args.base):
        raise BadInputError("--gpu, --gpus and --base plan the full profile's models: set LLMKIT_PROFILE=full.")
    plan, config = plan_run(profile, gpu, gpus, args.base)
    if args.steps:
        config = dataclasses.replace(config, max_steps=args.steps)
    if args.merge and config.fsdp:
        raise BadInputError(MERGE_UNDER_FSDP)
    if plan is not None and not runs_here(plan, world):
        if rank == 0:
            print(describe(plan, gpu), launch_advice(plan, world, argv), sep="\n", flush=True)
        return 0
    if rank == 0:
        rehearsal = (
            f"no GPU here: {world} process(es) on this CPU (gloo), rehearsing data parallelism (DDP)"
            if gpu is None
            else f"offline profile: {world} process(es) on {gpu.name} GPUs, the stand-in's own config, unplanned"
        )
        print(describe(plan, gpu) if plan else rehearsal, flush=True)
    if torch.cuda.is_available():  # this process's GPU, before anything loads (4-bit weights under FSDP land there)
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if world > 1:  # the processes meet here; Accelerate (inside the Trainer) takes this group over
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if rank != 0 and world > 1:
        dist.barrier()  # rank 0 builds the data set once; the others then read it from the cache
    data = load_price_data(profile)
    if rank == 0 and world > 1:
        dist.barrier()
    global_batch = plan.global_batch if plan else max(world, config.batch_size * config.grad_accum // world * world)
    run = train_data_parallel(None, data.train, config, global_batch, args.out)
    if rank == 0 and config.fsdp:  # a forward pass needs every process's shard
        print(f"not evaluated: under FSDP no process holds the whole model; evaluate {args.out / 'adapter'} on one GPU")
    elif rank == 0:  # one evaluation, one log, one adapter: the others wait at the barrier below
        test = data.test[: args.eval_items] if args.eval_items else data.test
        predictor = fine_tuned.PricePredictor(run["model"], run["tokenizer"], max_length=config.max_length)
        report = evaluate(predictor, test, "LoRA, data-parallel")
        print(report.summary(), flush=True)
        summary = {"world": world, "mae": report.mae, "n": report.n, "answered": report.answered}
        (Path(args.out) / "report.json").write_text(json.dumps(summary))
    if rank == 0 and args.merge:
        print("merged:", merge(Path(args.out) / "adapter", run["tokenizer"]), flush=True)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BadInputError as err:  # a sentence, never a traceback from inside torch
        print(err, file=sys.stderr)
        sys.exit(2)
