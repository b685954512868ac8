"""Week 7 benchmark: training throughput, peak memory and hours per epoch.

Modes:

* default: the offline config on the real price data and SmolLM2 (target: peak memory under 4 GB; exit 1 if not);
* `--shapes`: models of named shapes (Llama-3.1-8B, Llama-3.2-3B, SmolLM2-135M) built from a config with random
  weights (nothing is downloaded), trained a few LoRA steps in each candidate configuration that plan_training
  chooses between, on whatever device is here: tokens/s, peak memory and projected hours for one epoch of the
  course's 400k items. On a CPU only the small shape runs; `--quick` is the CI-sized run.
* `--logits`: the offline config's training step on real price batches, with logits for every position (the usual
  collator) against logits only where the price is (the kit's `PriceTokensCollator`): seconds per step, same loss.
* `--top`: the offline config with LoRA on every layer, and on the top 15, 10 and 6 layers (attention only, then
  attention and MLP): seconds per step and trainable parameters on real price batches (the error each reaches is
  the claims table's business: `make claims` runs week 7).
* `--processes`: the same LoRA training as 1 and as 2 data-parallel processes on this machine (torchrun; gloo on a
  CPU), SmolLM2 on real price items (`--quick`: a tiny Llama): tokens/s, peak memory per process, and whether the
  losses agree; then the plan (`plan_cluster`) for the GPU nodes students use, with the sources of its figures.
* `--readout [field=value ...]`: the offline config (fields replaced, e.g. `learning_rate=6e-3 seed=7 max_length=48`)
  trained once on the real price data; the untrained and the fine-tuned model each read greedily and as the median
  of its price distribution, on the 40 test items: error with its 95% interval, hits, spread, seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

from utils import fine_tuned, setup
from utils import training as ft
from utils.catalog import model_facts, model_params_b
from utils.hardware import current_gpu, native_bf16, peak_memory_gb, reset_peak_memory
from utils.prices import load_price_data
from utils.training_plan import COURSE_TRAIN_ITEMS, ITEM_TOKENS, node_plans

LIMIT_GB = 4.0
# What data/model_facts.csv does not hold of each architecture, from the model's published config.json; its layers
# and KV heads come from that table (shape_config).
ARCHITECTURES = {
    "HuggingFaceTB/SmolLM2-135M": dict(
        hidden_size=576, intermediate_size=1536, num_attention_heads=9, vocab_size=49152
    ),
    "meta-llama/Llama-3.2-3B": dict(
        hidden_size=3072, intermediate_size=8192, num_attention_heads=24, vocab_size=128256
    ),
    "meta-llama/Llama-3.1-8B": dict(
        hidden_size=4096, intermediate_size=14336, num_attention_heads=32, vocab_size=128256
    ),
}
SHAPES = {repo.split("/")[1]: repo for repo in ARCHITECTURES}  # the table's short name -> Hugging Face id


def shape_config(shape: str) -> dict:
    """LlamaConfig fields of a shape: its architecture plus layers and KV heads from data/model_facts.csv."""
    facts = model_facts().set_index("model").loc[SHAPES[shape]]
    return {
        **ARCHITECTURES[SHAPES[shape]],
        "num_hidden_layers": int(facts["layers"]),
        "num_key_value_heads": int(facts["kv_heads"]),
    }


def gpu_dtype() -> torch.dtype:
    """The plan's compute dtype on this GPU: bf16 only where native (a T4 emulates it: fp16 there)."""
    return torch.bfloat16 if native_bf16() else torch.float16


def save_random_weights(shape: str, dtype: torch.dtype, folder: str) -> str:
    """Save a random-weight model of a shape in dtype to folder, once per shape: every GPU mode loads it (4-bit
    quantises on load). Built on the GPU when it holds the weights twice over, else in the CPU's memory."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    cfg = LlamaConfig(**shape_config(shape), max_position_embeddings=2048)
    size = model_params_b(SHAPES[shape]) * 1e9 * torch.finfo(dtype).bits / 8
    device = "cuda" if torch.cuda.mem_get_info()[0] > 2.5 * size else "cpu"
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    model.save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    return folder


def build(shape: str, mode: str, weights: str | None = None) -> torch.nn.Module:
    """A random-weight model of a shape, in a mode: '16-bit', '4-bit', '4-bit + checkpointing' (loaded from the
    weights folder) or 'cpu' (in float32)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    if mode == "cpu":
        model = LlamaForCausalLM(LlamaConfig(**shape_config(shape), max_position_embeddings=2048))
    else:
        dtype = gpu_dtype()
        quantized = {} if mode == "16-bit" else {"quantization_config": ft.quantization_config(dtype)}
        model = LlamaForCausalLM.from_pretrained(weights, dtype=dtype, device_map={"": 0}, **quantized)
    recipe = ft.FineTuneConfig(**ft.FULL_LORA, gradient_checkpointing=mode.endswith("checkpointing"))
    return ft.lora_model(model, recipe)  # the kit's own LoRA and k-bit preparation


def measure(shape: str, mode: str, batch: int, seq: int, steps: int, weights: str | None = None) -> dict:
    """Train `steps` LoRA steps on random tokens after one warm-up step; tokens/s, peak memory, hours per epoch."""
    torch.manual_seed(0)
    reset_peak_memory()
    model = build(shape, mode, weights)
    model.train()
    device = "cuda" if mode != "cpu" else "cpu"
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, ARCHITECTURES[SHAPES[shape]]["vocab_size"], (batch, seq), device=device)
    seconds = 0.0
    for step in range(steps + 1):
        start = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=mode == "16-bit"):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if step:  # the first step warms up kernels and allocators
            seconds += time.perf_counter() - start
    tokens_per_s = steps * batch * seq / seconds
    hours = COURSE_TRAIN_ITEMS * ITEM_TOKENS / tokens_per_s / 3600
    row = {
        "shape": shape,
        "config": mode,
        "batch x seq": f"{batch}x{seq}",
        "tokens/s": round(tokens_per_s),
        "peak GB": round(peak_memory_gb(), 2),
        "hours/epoch": round(hours, 1),
    }
    del model, opt
    return row


def shapes_table(quick: bool) -> list[dict]:
    """Every shape and config that this device can try."""
    rows = []
    if not torch.cuda.is_available():
        batch, seq, steps = (2, 64, 2) if quick else (8, ITEM_TOKENS, 5)
        rows.append(measure("SmolLM2-135M", "cpu", batch, seq, steps))
        return rows
    import shutil
    import tempfile

    device = current_gpu()
    for shape in SHAPES:
        weights = save_random_weights(shape, gpu_dtype(), tempfile.mkdtemp(prefix=f"llmkit-{shape}-"))
        for mode in ("16-bit", "4-bit", "4-bit + checkpointing"):
            try:
                rows.append(measure(shape, mode, 16, ITEM_TOKENS, 3 if quick else 10, weights))
            except torch.cuda.OutOfMemoryError:
                rows.append({"shape": shape, "config": mode, "tokens/s": "out of memory"})
        shutil.rmtree(weights)
        chosen = ft.plan_training(device, params_b=model_params_b(SHAPES[shape]))
        for row in rows:
            if row["shape"] == shape and row["config"] == chosen.mode:
                row["chosen"] = "yes"
    return rows


def offline_config(steps: int = 10) -> int:
    """The offline notebook's config on the real data: throughput and peak memory against the 4 GB target."""
    profile = setup()
    data = load_price_data(profile)
    m = fine_tuned.measure_throughput(ft.config_for(profile), data.train, steps)
    config, seconds, share = m["config"], m["seconds"], m["padding_share"]
    rows = [
        ("config", f"{config.base}, LoRA r={config.r}, batch {config.batch_size}, max_length {config.max_length}"),
        ("steps (the first, a warm-up, not timed)", steps),
        ("seconds", f"{seconds:.1f}"),
        ("seconds per step", f"{seconds / (steps - 1):.2f}"),
        ("examples per second", f"{m['examples_per_s']:.2f}"),
        ("tokens per second", f"{m['tokens_per_s']:.0f}"),
        ("padding share (grouped by length)", f"{share:.1%}"),
        ("peak memory (GB)", f"{peak_memory_gb():.2f}"),
        ("target", f"< {LIMIT_GB} GB"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    return 0 if peak_memory_gb() < LIMIT_GB else 1


def top_layers_table(steps: int = 5) -> list[dict]:
    """Seconds per offline training step with LoRA on fewer, higher layers (the backward pass stops below them)."""
    import dataclasses

    profile = setup(quiet=True)
    data = load_price_data(profile)
    base = ft.config_for(profile)
    rows = []
    for top in (0, 15, 10, 6):
        for targets in (ft.ATTENTION, ft.ATTENTION_AND_MLP):
            config = dataclasses.replace(base, top_layers=top, target_modules=targets)
            m = fine_tuned.measure_throughput(config, data.train[:64], steps)
            rows.append(
                {
                    "LoRA layers": "all" if top == 0 else f"top {top}",
                    "matrices": "attention" if targets == ft.ATTENTION else "attention + MLP",
                    "s/step": round(m["seconds"] / (steps - 1), 2),
                    "examples/s": round(m["examples_per_s"], 1),
                    "offline config": "yes" if (top, targets) == (base.top_layers, base.target_modules) else "",
                }
            )
    return rows


def logits_table(steps: int = 4) -> list[dict]:
    """Seconds per training step of SmolLM2 + LoRA on real price batches: full logits against price-only logits."""
    from transformers import DataCollatorForSeq2Seq

    profile = setup()
    config = ft.config_for(profile)
    tok, base = ft.load_base(config)
    model = ft.lora_model(base, config)
    model.train()
    data = ft.build_dataset(tok, load_price_data(profile).train, config.max_length)
    batches = [data[i * config.batch_size : (i + 1) * config.batch_size] for i in range(steps + 1)]
    collators = {
        "every position (DataCollatorForSeq2Seq)": DataCollatorForSeq2Seq(tok, padding=True),
        "the price only (PriceTokensCollator)": ft.PriceTokensCollator(tok),
    }
    rows = []
    for name, collate in collators.items():
        seconds, losses = 0.0, []
        for step, examples in enumerate(batches):
            start = time.perf_counter()
            loss = model(**collate(examples)).loss
            loss.backward()
            model.zero_grad(set_to_none=True)
            if step:  # the first step warms up
                seconds += time.perf_counter() - start
                losses.append(loss.item())
        per_step, mean_loss = round(seconds / steps, 2), round(sum(losses) / steps, 4)
        rows.append(
            {
                "logits for": name,
                "batch": f"{config.batch_size} items",
                "seconds/step": per_step,
                "mean loss": mean_loss,
            }
        )
    return rows


_WORKER = """
import sys
from utils import setup
from utils.distributed import train_data_parallel
from utils.training import FineTuneConfig
from utils.prices import load_price_data

steps, batch = int(sys.argv[3]), int(sys.argv[4])
items = load_price_data(setup(quiet=True)).train[: steps * batch]
config = FineTuneConfig(dropout=0.0, max_steps=steps, logging_steps=1, save_steps=10_000, warmup_steps=0)
train_data_parallel(sys.argv[1], items, config, batch, sys.argv[2])
"""


def processes_table(quick: bool) -> list[dict]:
    """Measured: 1 and 2 processes on this machine, the same global batch; each row from the processes' own reports."""
    import json
    import os
    import tempfile
    from pathlib import Path

    from utils.assets import smollm2_folder
    from utils.distributed import run_processes
    from utils.standins.rehearsal import build_tiny_llama

    root = Path(tempfile.mkdtemp(prefix="llmkit-ddp-bench-"))
    model = build_tiny_llama(root / "tiny") if quick else smollm2_folder()
    steps, batch = (2, 4) if quick else (8, 8)
    (root / "worker.py").write_text(_WORKER)
    rows, first = [], None
    for n in (1, 2):
        out = root / f"out{n}"
        run_processes(root / "worker.py", n, str(model), str(out), str(steps), str(batch))
        ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(n)]
        losses = json.loads((out / "losses.json").read_text())["losses"]
        first = first or losses
        seconds = max(r["seconds"] for r in ranks)
        tokens = sum(r["tokens"] for r in ranks)
        rows.append(
            {
                "model": Path(model).name,
                "processes": n,
                "threads each": os.cpu_count() // n,
                "global batch": batch,
                "steps": steps,
                "tokens/s": round(tokens / seconds),
                "tokens/s per process": round(tokens / seconds / n),
                "peak MB per process": round(max(r["peak_mb"] for r in ranks)),
                "max loss gap vs 1 process": f"{max(abs(a - b) / a for a, b in zip(first, losses)):.1e}",
            }
        )
    return rows


def readout_table(overrides: list[str]) -> list[dict]:
    """Train the offline config with `field=value` overrides; read the untrained and the trained model both ways."""
    import dataclasses
    import shutil

    from utils.evaluation import evaluate

    profile = setup()
    data = load_price_data(profile)
    config = ft.config_for(profile)
    fields = dict(pair.split("=", 1) for pair in overrides)
    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(config)})
    if unknown:
        raise SystemExit(f"not FineTuneConfig fields: {', '.join(unknown)}")
    config = dataclasses.replace(
        config, **{k: type(getattr(config, k))(v) for k, v in fields.items()}, run_name="readout-benchmark"
    ).validate()
    torch.manual_seed(config.seed)
    tok, model = ft.load_base(config)
    rows = []

    def read(label: str) -> None:
        for readout in fine_tuned.READOUTS:
            predictor = fine_tuned.PricePredictor(model, tok, readout=readout, max_length=config.max_length)
            start = time.perf_counter()
            report = evaluate(predictor, data.test, f"{label}, {readout}", progress=False)
            guesses = report.table.loc[report.table["parsed"], "guess"]
            rows.append(
                {
                    "model": label,
                    "readout": readout,
                    "error $": round(report.mae),
                    "95% interval": f"{report.mae_ci95[0]:.0f}-{report.mae_ci95[1]:.0f}",
                    "hits": f"{report.hit_rate:.0%}",
                    "spread $": round(guesses.std()),
                    "seconds": round(time.perf_counter() - start, 1),
                }
            )

    read("untrained")
    dataset = ft.build_dataset(tok, data.train, config.max_length)
    shutil.rmtree(config.output_dir, ignore_errors=True)
    model = ft.lora_model(model, config)
    start = time.perf_counter()
    ft.make_trainer(model, tok, dataset, config).train()
    trained = time.perf_counter() - start
    shutil.rmtree(config.output_dir, ignore_errors=True)
    read(f"fine-tuned ({config.max_steps} steps, {trained:.0f} s)")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", action="store_true", help="random-weight models of named shapes")
    parser.add_argument("--quick", action="store_true", help="CI-sized: fewer, shorter steps")
    parser.add_argument("--logits", action="store_true", help="full logits against the price's only")
    parser.add_argument("--processes", action="store_true", help="1 and 2 data-parallel processes, and GPU plans")
    parser.add_argument("--top", action="store_true", help="LoRA on every layer against the top layers only")
    parser.add_argument("--readout", nargs="*", metavar="FIELD=VALUE", help="greedy digits against the median price")
    args = parser.parse_args(argv)
    if args.readout is not None:
        import pandas as pd

        print(f"CPU ({torch.get_num_threads()} threads); date: {time.strftime('%Y-%m-%d')}; torch {torch.__version__}")
        print(pd.DataFrame(readout_table(args.readout)).to_string(index=False))
        return 0
    if args.top:
        import pandas as pd

        print(f"CPU ({torch.get_num_threads()} threads); date: {time.strftime('%Y-%m-%d')}; torch {torch.__version__}")
        print(pd.DataFrame(top_layers_table()).to_string(index=False))
        return 0
    if args.processes:
        import pandas as pd

        print(
            f"measured on this machine ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}, torch {torch.__version__}"
        )
        print(pd.DataFrame(processes_table(args.quick)).to_string(index=False))
        print("\nplanned for GPU nodes (training_plan.plan_cluster; no training). Sources: the memory")
        print("estimate is fitted to one H100 run of Llama 3.1 8B at 16 x 182 tokens (benchmarks/README.md); peft")
        print("reports 70B QLoRA with FSDP and CPU offload on 2 x 24 GB at 19.6 GB per GPU (peft docs,")
        print("accelerate/fsdp.md, v0.21.2).")
        print(node_plans().to_string(index=False))
        return 0
    if args.logits:
        import pandas as pd

        print(f"CPU ({torch.get_num_threads()} threads); date: {time.strftime('%Y-%m-%d')}; torch {torch.__version__}")
        print(pd.DataFrame(logits_table()).to_string(index=False))
        return 0
    if not args.shapes:
        return offline_config()
    import pandas as pd

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"
    table = pd.DataFrame(shapes_table(args.quick)).fillna("")
    print(f"device: {device}; date: {time.strftime('%Y-%m-%d')}; torch {torch.__version__}")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
