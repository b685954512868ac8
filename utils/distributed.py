"""Week 7 on several processes: one LoRA training function that runs alone or as one of N data-parallel processes
(`torchrun`, `accelerate launch`, or Accelerate's `notebook_launcher` through `launch.launch_in_notebook`); rank 0
alone reports and saves."""

from __future__ import annotations

import json
import math
import os
import resource
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from .client.local_server import free_port
from .errors import BadInputError, LLMKitError
from .prices import Item
from .training import FineTuneConfig, build_dataset, load_base, lora_model, make_trainer

# peft cannot merge an adapter into a base that no process holds whole: what to do instead, in one sentence
MERGE_UNDER_FSDP = (
    "Merging is refused under FSDP, where each process holds only a shard of the 4-bit base: train and save the "
    "adapter, then merge on one machine afterwards (load the base in 16-bit, PeftModel.from_pretrained(base, "
    "adapter_folder), merge_and_unload())."
)
NEEDS_ACCELERATE = (
    "This config trains with FSDP, which Accelerate sets up: launch with `accelerate launch --config_file <the plan's "
    "config>` (scripts/train_week7.py prints the command)."
)


def process_rank() -> tuple[int, int]:
    """(this process's rank, how many processes train together): (0, 1) when run alone."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def fsdp_launched() -> bool:
    """True in a process that `accelerate launch` started with an FSDP config."""
    return os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"


def use_peft_fsdp_wrapping(trainer: Any) -> None:
    """Before training under FSDP: peft's auto-wrap policy, which makes each LoRA layer its own FSDP unit, so the
    frozen 4-bit weights and the trainable ones are flattened apart (the memory saving of use_orig_params false)."""
    from peft.utils.other import fsdp_auto_wrap_policy

    plugin = getattr(trainer.accelerator.state, "fsdp_plugin", None)
    if plugin is None:
        raise BadInputError(NEEDS_ACCELERATE)
    plugin.auto_wrap_policy = fsdp_auto_wrap_policy(trainer.model)


def write_adapter(model: Any, state: dict[str, Any], folder: str | Path) -> Path:
    """Save a LoRA model's adapter from its full state dict, in PeftModel.save_pretrained's format. Under FSDP, peft
    0.21 selects the adapter's weights by module names that FSDP's wrapping of each layer changed, and saves none."""
    from safetensors.torch import save_file

    name, folder = model.active_adapter, Path(folder)
    weights = {key.replace(f".{name}.", "."): w.contiguous() for key, w in state.items() if f".{name}." in key}
    if not weights:
        raise LLMKitError(f"The state dict holds no weights of the adapter {name!r}: nothing to save.")
    folder.mkdir(parents=True, exist_ok=True)
    model.peft_config[name].save_pretrained(str(folder))
    save_file(weights, str(folder / "adapter_model.safetensors"))
    return folder


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


def accelerate_command(config_file: str | Path, script: str | Path, *args: str) -> list[str]:
    """`accelerate launch` of a script with a written Accelerate config (this environment's accelerate, where found)."""
    here = Path(sys.executable).with_name("accelerate")
    launcher = str(here) if here.exists() else "accelerate"
    return [launcher, "launch", "--config_file", str(config_file), str(script), *args]


def run_processes(script: str | Path, processes: int, *args: str) -> str:
    """Run `processes` copies of a script with torchrun, each with its share of the CPU threads, and return what they
    printed; a clear error with the last lines when one fails."""
    import subprocess

    threads = max(1, (os.cpu_count() or 1) // processes)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TQDM_DISABLE": "1"}
    done = subprocess.run(launch_command(script, processes, *args), env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise LLMKitError(f"{processes} processes of {Path(script).name} did not finish:\n{last}")
    return done.stdout


class _RecordingCollator:
    """The trainer's collator, noting which items each batch of this process held."""

    def __init__(self, inner: Any, index_of: dict[tuple[int, ...], int]):
        self.inner, self.index_of, self.seen = inner, index_of, []

    def __call__(self, batch: list[dict[str, Any]]) -> Any:
        self.seen += [self.index_of[tuple(example["input_ids"])] for example in batch]
        return self.inner(batch)


def train_data_parallel(
    model_folder: str | Path | None,
    items: Sequence[Item],
    config: FineTuneConfig,
    global_batch: int,
    out: str | Path,
) -> dict[str, Any]:
    """Run in every process: LoRA training with the global batch split over the processes (each sees its own
    shard, in micro-batches of at most config.batch_size, the plan's, accumulating the rest; gradients are averaged,
    so each step is the step one process would take on the whole batch). Each process writes the items it trained
    on, its seconds, tokens and peak memory; rank 0 alone writes the losses and saves the one adapter. model_folder
    None: the config's base, loaded as week 7 loads it (training.load_kwargs: 4-bit where the plan says; each
    process's copy on its own GPU, or under FSDP a shard placed by Accelerate, wrapped by peft's policy and gathered
    into a full state dict to save). Returns the losses, and the trained model and tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    rank, world = process_rank()
    if global_batch % world:
        raise BadInputError(f"The global batch ({global_batch}) must split evenly over {world} processes.")
    if not torch.cuda.is_available() and (config.fsdp or (world > 1 and fsdp_launched())):
        raise BadInputError("Accelerate runs FSDP on GPUs only: rehearse with DDP (gloo) here and shard on GPUs.")
    if config.fsdp and not fsdp_launched():
        raise BadInputError(NEEDS_ACCELERATE)
    out = Path(out)
    share = global_batch // world
    batch = math.gcd(config.batch_size, share)  # at most the plan's batch per process; the rest accumulated
    config = replace(config, batch_size=batch, grad_accum=share // batch, group_by_length=False).validate()
    set_seed(config.seed)
    if model_folder is None:
        tok, base = load_base(config)
    else:
        tok, base = AutoTokenizer.from_pretrained(model_folder), AutoModelForCausalLM.from_pretrained(model_folder)
    tok.pad_token = tok.pad_token or tok.eos_token
    model = lora_model(base, config)
    dataset = build_dataset(tok, items, config.max_length)
    trainer = make_trainer(model, tok, dataset, config)
    if config.fsdp:
        use_peft_fsdp_wrapping(trainer)
    recorder = _RecordingCollator(trainer.data_collator, {tuple(d["input_ids"]): i for i, d in enumerate(dataset)})
    trainer.data_collator = recorder
    seconds = trainer.train().metrics["train_runtime"]
    # the data loader reads one batch ahead (to know which is last): keep the batches the steps trained on
    recorder.seen = recorder.seen[: trainer.state.global_step * share]
    out.mkdir(parents=True, exist_ok=True)
    tokens = sum(len(dataset[i]["input_ids"]) for i in recorder.seen)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    report = {
        "seen": recorder.seen,
        "batch": share,
        "seconds": seconds,
        "tokens": tokens,
        "peak_mb": peak_mb,
    }
    (out / f"rank{rank}.json").write_text(json.dumps(report))
    if config.fsdp:  # a full state dict, gathered by every process onto the main one, which writes the adapter
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
        state = trainer.accelerator.get_state_dict(trainer.model)
        if trainer.is_world_process_zero():
            write_adapter(model, state, out / "adapter")
    else:
        trainer.save_model(str(out / "adapter"))  # the Trainer writes on the main process only
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    if trainer.is_world_process_zero():
        (out / "losses.json").write_text(json.dumps({"world": world, "losses": losses}))
    return {"rank": rank, "world": world, "losses": losses, "model": model, "tokenizer": tok}
