"""Week 7's model measured and used: training speed, greedy prices, the harness's predictor, adapter size."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import TrainerCallback

from . import finetune as ft
from .errors import BadInputError
from .prices import Item


def measure_throughput(config: ft.FineTuneConfig, items: Sequence[Item], steps: int = 3) -> dict[str, Any]:
    """Train `steps` LoRA steps of a config on real items; time all but the first (warm-up): tokens per second."""
    import time

    if steps < 2:
        raise BadInputError(f"steps must be at least 2 (the first one warms up and is not timed), got {steps}.")
    config = dataclasses.replace(config, max_steps=steps, save_steps=10_000, run_name=f"{config.run_name}-throughput")
    tok, base = ft.load_base(config)
    dataset = ft.build_dataset(tok, items, config.max_length)
    ends: list[float] = []

    class StepClock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            ends.append(time.perf_counter())

    trainer = ft.make_trainer(ft.lora_model(base, config), tok, dataset, config, callbacks=[StepClock()])
    from transformers.trainer_callback import ProgressCallback
    from transformers.utils.notebook import NotebookProgressCallback

    for progress in (ProgressCallback, NotebookProgressCallback):  # a timing run shows no training table or bar
        trainer.remove_callback(progress)
    share = padding_share(trainer)
    trainer.train()
    shutil.rmtree(config.output_dir, ignore_errors=True)  # nothing to resume from a timing run
    seconds = ends[-1] - ends[0]
    examples = (steps - 1) * config.batch_size * config.grad_accum
    mean_tokens = sum(len(d["input_ids"]) for d in dataset) / len(dataset)
    return {
        "steps": steps,
        "seconds": seconds,
        "examples_per_s": examples / seconds,
        "tokens_per_s": examples * mean_tokens / seconds,
        "tokens_per_item": mean_tokens,
        "padding_share": share,
        "config": config,
    }


def padding_share(trainer: Any) -> float:
    """Share of the tokens in the training batches that are padding, measured on the Trainer's own data loader."""
    real = total = 0
    for batch in trainer.get_train_dataloader():
        mask = batch["attention_mask"]
        real, total = real + int(mask.sum()), total + mask.numel()
    return 1 - real / total


def generate_prices(
    model: Any, tok: Any, items: Sequence[Item], batch_size: int = 16, max_new_tokens: int = 6
) -> list[str]:
    """Greedy continuations of each item's prompt (the text after 'Price is $'), a batch at a time (left padding)."""
    side = tok.padding_side
    tok.padding_side = "left"  # every prompt ends where generation starts
    out: list[str] = []
    try:
        for start in range(0, len(items), batch_size):
            prompts = [it.prompt() for it in items[start : start + batch_size]]
            enc = tok(prompts, return_tensors="pt", padding=True).to(model.device)  # BOS as in training
            with torch.no_grad():
                gen = model.generate(
                    **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id
                )
            out += tok.batch_decode(gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    finally:
        tok.padding_side = side
    return out


def generate_price(model: Any, tok: Any, item: Item, max_new_tokens: int = 6) -> str:
    """One item's greedy continuation, alone (the reference the batched path must match)."""
    return generate_prices(model, tok, [item], batch_size=1, max_new_tokens=max_new_tokens)[0]


class PricePredictor:
    """The fine-tuned (or base) model as the harness's item -> reply function (the harness parses the number), with
    a batched path the harness uses when it can."""

    def __init__(self, model: Any, tok: Any, batch_size: int = 16):
        self.model, self.tok, self.batch_size = model.eval(), tok, batch_size

    def __call__(self, item: Item) -> str:
        return generate_price(self.model, self.tok, item).lstrip()

    def predict_batch(self, items: Sequence[Item]) -> list[str]:
        """Replies for many items, generated batch_size at a time."""
        return [r.lstrip() for r in generate_prices(self.model, self.tok, items, self.batch_size)]


def folder_megabytes(folder: Path, pattern: str = "*.safetensors") -> float:
    """Size of the weight files in a folder, in MB."""
    return sum(p.stat().st_size for p in Path(folder).glob(pattern)) / 1e6
