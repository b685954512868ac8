"""Week 7 on several processes: one LoRA training function that runs alone or as one of N data-parallel processes
(`torchrun`, `accelerate launch`, Accelerate's `notebook_launcher`); rank 0 alone reports and saves."""

from __future__ import annotations

import json
import os
import resource
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from .client.local_server import free_port
from .errors import BadInputError
from .finetune import FineTuneConfig, build_dataset, lora_model, make_trainer
from .prices import Item


def process_rank() -> tuple[int, int]:
    """(this process's rank, how many processes train together): (0, 1) when run alone."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def launch_command(script: str | Path, processes: int, *args: str) -> list[str]:
    """torchrun's command for `processes` copies of a script on this machine (gloo on a CPU, NCCL on GPUs)."""
    if processes < 1:
        raise BadInputError(f"processes must be at least 1, got {processes}.")
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={processes}",
        "--nnodes=1",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        str(script),
        *args,
    ]


class _RecordingCollator:
    """The trainer's collator, noting which items each batch of this process held."""

    def __init__(self, inner: Any, index_of: dict[tuple[int, ...], int]):
        self.inner, self.index_of, self.seen = inner, index_of, []

    def __call__(self, batch: list[dict[str, Any]]) -> Any:
        self.seen += [self.index_of[tuple(example["input_ids"])] for example in batch]
        return self.inner(batch)


def train_data_parallel(
    model_folder: str | Path, items: Sequence[Item], config: FineTuneConfig, global_batch: int, out: str | Path
) -> dict[str, Any]:
    """Run in every process: LoRA training with the global batch split over the processes (each sees its own
    shard; gradients are averaged, so each step is the step one process would take on the whole batch). Each process
    writes the items it trained on, its seconds, tokens and peak memory; rank 0 alone writes the losses and saves the
    one adapter."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    rank, world = process_rank()
    if global_batch % world:
        raise BadInputError(f"The global batch ({global_batch}) must split evenly over {world} processes.")
    if world > 1 and not torch.cuda.is_available() and os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true":
        raise BadInputError("FSDP does not run on a CPU in practice: rehearse with DDP (gloo) and shard on GPUs.")
    out = Path(out)
    config = replace(config, batch_size=global_batch // world, grad_accum=1, group_by_length=False).validate()
    set_seed(config.seed)
    tok = AutoTokenizer.from_pretrained(model_folder)
    tok.pad_token = tok.pad_token or tok.eos_token
    model = lora_model(AutoModelForCausalLM.from_pretrained(model_folder), config)
    dataset = build_dataset(tok, items, config.max_length)
    trainer = make_trainer(model, tok, dataset, config)
    recorder = _RecordingCollator(trainer.data_collator, {tuple(d["input_ids"]): i for i, d in enumerate(dataset)})
    trainer.data_collator = recorder
    seconds = trainer.train().metrics["train_runtime"]
    out.mkdir(parents=True, exist_ok=True)
    tokens = sum(len(dataset[i]["input_ids"]) for i in recorder.seen)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    report = {"seen": recorder.seen, "seconds": seconds, "tokens": tokens, "peak_mb": peak_mb}
    (out / f"rank{rank}.json").write_text(json.dumps(report))
    trainer.save_model(str(out / "adapter"))  # the Trainer writes on the main process only
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    if trainer.is_world_process_zero():
        (out / "losses.json").write_text(json.dumps({"world": world, "losses": losses}))
    return {"rank": rank, "world": world, "losses": losses}
