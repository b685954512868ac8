"""Week 7's full-profile path on this machine's GPU, with the rehearsal's stand-in (a tiny random-weight Llama with
SmolLM2's tokenizer, so nothing is downloaded): the plan, 16-bit LoRA and 4-bit QLoRA, interrupt and resume, nats per
price, batched generation, save and reload within logit_tolerance; on a machine with 2 GPUs, FSDP + QLoRA as a user
runs it (scripts/train_week7.py plans 70B on 2 x L4, the stand-in loaded in its place, and the command it prints
trains). CI has no GPU; run this where one is:

    python scripts/week7_gpu_check.py [TOKENIZER_FOLDER]   # default: SmolLM2's tokenizer from its package

Prints each check and one row per mode; exits 1 if a check failed, 2 without a GPU."""

import dataclasses
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

work = Path(tempfile.mkdtemp(prefix="w7gpu-"))
os.environ.update(
    LLMKIT_PROFILE="full",
    LLMKIT_REHEARSAL="1",
    LLMKIT_AMAZON_DIR=str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "amazon"),
    LLMKIT_CACHE=str(work / "cache"),
    HF_HUB_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
)
import torch  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

from utils.standins.rehearsal import tiny_llama  # noqa: E402
from utils.tokens import smollm2_tokenizer  # noqa: E402

if not torch.cuda.is_available():
    print("No CUDA GPU here: this check is for a GPU machine (CI runs on CPUs).", file=sys.stderr)
    sys.exit(2)
tok = AutoTokenizer.from_pretrained(sys.argv[1]) if len(sys.argv) > 1 else smollm2_tokenizer()
model_dir = work / "tiny"
tiny_llama(len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id).save_pretrained(model_dir)
tok.save_pretrained(model_dir)
os.environ["LLMKIT_HF_MODEL"] = str(model_dir)

from peft import PeftModel  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from utils import fine_tuned, setup  # noqa: E402
from utils import training as ft  # noqa: E402
from utils.evaluation import evaluate  # noqa: E402
from utils.hardware import current_gpu, peak_memory_gb, reset_peak_memory  # noqa: E402
from utils.prices import load_price_data  # noqa: E402
from utils.training_plan import plan_training  # noqa: E402

profile = setup()
data = load_price_data(profile)
gpu = current_gpu()
print("gpu:", gpu, "| torch", torch.__version__, "| plan for Llama 3.1 8B:", plan_training(gpu, 8.0))
failures, rows = [], []


def check(ok: bool, what: str) -> None:
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


planned = ft.config_for(profile)
for quantize in (planned.quantize_4bit, not planned.quantize_4bit):
    start = time.perf_counter()
    reset_peak_memory()
    config = dataclasses.replace(
        planned,
        quantize_4bit=quantize,
        max_steps=24,
        save_steps=12,
        logging_steps=4,
        warmup_steps=2,
        gradient_checkpointing=quantize,
        run_name=f"gpu-{'q' if quantize else 'b'}",
        learning_rate=3e-3,
    )
    mode = f"{'4-bit QLoRA' if quantize else '16-bit LoRA'} in {config.compute_dtype}"
    print(f"--- {mode}")
    shutil.rmtree(config.output_dir, ignore_errors=True)
    tok, base = ft.load_base(config)
    check(next(base.parameters()).is_cuda, f"{mode}: the base model is on the GPU")
    check(getattr(base, "is_loaded_in_4bit", False) == quantize, f"{mode}: 4-bit exactly when asked")
    test = data.test[:32]
    nats_before = ft.price_nats(base, tok, test, config.max_length)
    train_set = ft.build_dataset(tok, data.train, config.max_length)
    model = ft.lora_model(base, config)
    trainer = ft.make_trainer(model, tok, train_set, config, callbacks=[ft.StopAtStep(12)])
    trainer.train()
    trainer = ft.make_trainer(model, tok, train_set, config)
    trainer.train(resume_from_checkpoint=ft.last_checkpoint(config))
    losses = [loss for _, loss in ft.loss_history(trainer)]
    check(trainer.state.global_step == 24, f"{mode}: resumed to step {trainer.state.global_step} of 24")
    check(
        all(map(math.isfinite, losses)),
        f"{mode}: every logged loss is a number ({losses[0]:.2f} -> {losses[-1]:.2f})",
    )
    nats_after = ft.price_nats(model, tok, test, config.max_length)
    check(
        sum(nats_after) < sum(nats_before),
        f"{mode}: nats per price fell ({sum(nats_before) / 32:.1f} -> {sum(nats_after) / 32:.1f})",
    )
    report = evaluate(fine_tuned.PricePredictor(model, tok), test, mode, progress=False)
    print(report.summary())
    one_by_one = [fine_tuned.generate_price(model, tok, item) for item in test[:6]]
    batched = fine_tuned.generate_prices(model, tok, test[:6])
    check(one_by_one == batched, f"{mode}: batched generation equals one at a time on the GPU")
    adapter = config.output_dir / "adapter"
    model.save_pretrained(adapter)
    _, fresh = ft.load_base(config)
    reloaded = PeftModel.from_pretrained(fresh, adapter).eval()
    model.eval()
    probe = tok(test[0].prompt(), return_tensors="pt").to(model.device)
    with torch.no_grad():
        gap = (model(**probe).logits - reloaded(**probe).logits).abs().max().item()
    atol = ft.logit_tolerance(config)
    check(gap <= atol, f"{mode}: reloaded adapter's logits within {atol:g} (gap {gap:.1e})")
    rows.append(
        {
            "mode": mode,
            "seconds": round(time.perf_counter() - start, 1),
            "peak GB": round(peak_memory_gb(), 2),
            "loss first/last": f"{losses[0]:.2f}/{losses[-1]:.2f}",
            "priced": f"{report.n - report.unparseable}/{report.n}",
            "logit gap": f"{gap:.1e}",
        }
    )
    del model, base, fresh, reloaded, trainer
    torch.cuda.empty_cache()

if torch.cuda.device_count() >= 2:  # the 70B plan for 2 x 24 GB, run on the stand-in: plan, then the printed command
    print("--- FSDP + QLoRA on 2 GPUs")
    fsdp_out = work / "fsdp"
    script = [sys.executable, str(Path(__file__).resolve().parent / "train_week7.py")]
    args = ["--gpu", "L4", "--gpus", "2", "--base", "meta-llama/Llama-3.1-70B", "--steps", "6", "--out", str(fsdp_out)]
    planned = subprocess.run([*script, *args], capture_output=True, text=True)
    check(planned.returncode == 0 and "FSDP + QLoRA on 2 x L4" in planned.stdout, "FSDP: planned, launch printed")
    command = shlex.split(planned.stdout.strip().splitlines()[-1]) if planned.returncode == 0 else ["false"]
    trained = subprocess.run(command, capture_output=True, text=True)
    failed = f": {trained.stderr[-600:]}" if trained.returncode else ""
    check(trained.returncode == 0, f"FSDP: the printed command trained{failed}")
    losses = json.loads((fsdp_out / "losses.json").read_text())["losses"] if trained.returncode == 0 else []
    check(bool(losses) and all(map(math.isfinite, losses)), f"FSDP: every logged loss is a number {losses}")
    weights = fsdp_out / "adapter" / "adapter_model.safetensors"
    lora_b = [w for name, w in load_file(weights).items() if "lora_B" in name] if weights.exists() else []
    check(bool(lora_b) and all(w.abs().max() > 0 for w in lora_b), "FSDP: the adapter saved is the trained one")
    refused = subprocess.run([*script, *args, "--merge"], capture_output=True, text=True)
    check(refused.returncode == 2 and "Merging is refused under FSDP" in refused.stderr, "FSDP: --merge is refused")
else:
    print(f"--- FSDP + QLoRA needs 2 GPUs; this machine has {torch.cuda.device_count()}")

print(json.dumps(rows, indent=1))
print("FAILED:" if failures else "all checks passed", failures)
sys.exit(1 if failures else 0)
