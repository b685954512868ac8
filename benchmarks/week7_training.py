"""Week 7 benchmark: training throughput (tokens/s) and peak memory of the offline fine-tuning config.

Target: the offline config trains in under 4 GB of RAM (peak resident memory of this process). Exit code 1 if not.
"""
from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils import finetune as ft  # noqa: E402
from utils import setup  # noqa: E402
from utils.prices import load_price_data  # noqa: E402

LIMIT_GB = 4.0


def main(steps: int = 10) -> int:
    profile = setup()
    data = load_price_data(profile)
    config = ft.config_for(profile)
    config.max_steps, config.save_steps, config.run_name = steps, 10_000, "benchmark"
    tok, base = ft.load_base(config)
    dataset = ft.build_dataset(tok, data.train, config.max_length)
    trainer = ft.make_trainer(ft.lora_model(base, config), tok, dataset, config)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    examples = steps * config.batch_size * config.grad_accum
    mean_len = sum(len(d["input_ids"]) for d in dataset) / len(dataset)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    rows = [("config", f"{config.base}, LoRA r={config.r}, batch {config.batch_size}, max_length {config.max_length}"),
            ("steps", steps), ("seconds", f"{seconds:.1f}"), ("seconds per step", f"{seconds / steps:.2f}"),
            ("examples per second", f"{examples / seconds:.2f}"),
            ("tokens per second", f"{examples * mean_len / seconds:.0f}"),
            ("peak memory (GB)", f"{peak_gb:.2f}"), ("target", f"< {LIMIT_GB} GB")]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    return 0 if peak_gb < LIMIT_GB else 1


if __name__ == "__main__":
    sys.exit(main())
