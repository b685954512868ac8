"""Week 7's model measured and used: training speed, greedy prices, the harness's predictor, adapter size."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import TrainerCallback

from . import finetune as ft
from .errors import BadInputError, LLMKitError
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


def checkpoint_errors(model: Any, tok: Any, config: ft.FineTuneConfig, items: Sequence[Item]) -> list[tuple[int, Any]]:
    """The learning curve in dollars: (training examples seen, the harness's Report on `items`) at each of the run's
    checkpoints before its last step, each loaded into `model` in turn; the trained weights are put back after."""
    from .evaluation import evaluate

    per_step = config.batch_size * config.grad_accum
    final = {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k}
    points = []
    try:
        for step, folder in ft.checkpoints(config):
            if config.max_steps > 0 and step >= config.max_steps:  # the trained model itself: evaluated already
                continue
            ft.load_adapter_weights(model, folder)
            points.append((step * per_step, evaluate(PricePredictor(model, tok), items, f"checkpoint {step}")))
    finally:
        model.load_state_dict(final, strict=False)
    return points


def folder_megabytes(folder: Path, pattern: str = "*.safetensors") -> float:
    """Size of the weight files in a folder, in MB."""
    return sum(p.stat().st_size for p in Path(folder).glob(pattern)) / 1e6


def model_files_megabytes(name_or_path: str) -> float:
    """Size of a loaded model's weight files, in MB: its folder, or the Hugging Face cache's copy of a hub id."""
    folder = Path(name_or_path)
    if not folder.is_dir():
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(name_or_path, local_files_only=True, allow_patterns=["*.safetensors"]))
    return folder_megabytes(folder)


# ----------------------------------------------------------------------------------------------------------------
# The fine-tune served like any model: local/<alias> through chat()
# ----------------------------------------------------------------------------------------------------------------
def lora_converter() -> Path | None:
    """llama.cpp's convert_lora_to_gguf.py, which `make setup` copies from the llama.cpp source it builds into the
    virtual environment; None where the kit has no llama.cpp (Colab: transformers serve loads the adapter itself)."""
    script = Path(sys.prefix) / "llama.cpp-convert" / "convert_lora_to_gguf.py"
    return script if script.exists() and importlib.util.find_spec("llama_cpp") else None


def lora_to_gguf(adapter_dir: Path, out: Path) -> Path:
    """A peft adapter as a GGUF LoRA that llama.cpp applies to its base model (the one the adapter names) when it
    loads it."""
    script = lora_converter()
    if script is None:
        raise LLMKitError("llama.cpp's LoRA converter is not installed here: run `make setup` (it keeps it).")
    base = base_folder(adapter_dir)
    cmd = [sys.executable, str(script), "--base", str(base), "--outfile", str(out), "--outtype", "f32"]
    done = subprocess.run([*cmd, str(adapter_dir)], capture_output=True, text=True)
    if done.returncode != 0:
        last = "\n".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise LLMKitError(f"llama.cpp could not convert the adapter in {adapter_dir} to GGUF:\n{last}")
    return out


def training_format(tok: Any) -> str:
    """The chat template that renders a chat as the fine-tune's training prompt: the user's message, nothing else
    (with the tokenizer's BOS where training added one), so chat() asks exactly what training taught."""
    adds_bos = tok.bos_token_id is not None and tok("x")["input_ids"][:1] == [tok.bos_token_id]
    bos = "{{ bos_token }}" if adds_bos else ""
    return bos + "{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}{% endif %}{% endfor %}"


def serve(adapter_dir: Path, tok: Any, base_gguf: Path | None = None, alias: str = "price-ft") -> str:
    """Serve a saved adapter like any model and return its name for chat(): llama.cpp loads the base's GGUF with the
    adapter converted to a GGUF LoRA; where the local backend is transformers serve (no llama.cpp, no GGUF base, or
    LLMKIT_LOCAL_BACKEND=transformers), it loads the base with the adapter merged in. Either way the prompt format
    is the training one (`training_format`). The base is the one the adapter names in its config."""
    from .client.local_server import FineTune, add_fine_tune, local_backend

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").exists():
        raise BadInputError(f"{adapter_dir} holds no saved adapter: save it first with model.save_pretrained(folder).")
    tok.chat_template = training_format(tok)
    template = adapter_dir / "served_format.json"  # llama.cpp reads the template from a tokenizer config
    keys = {"chat_template": tok.chat_template, "bos_token": tok.bos_token or "", "eos_token": tok.eos_token}
    template.write_text(json.dumps(keys))
    if base_gguf is not None and local_backend() == "llama.cpp" and lora_converter() is not None:
        lora = lora_to_gguf(adapter_dir, adapter_dir / "adapter.gguf")
        write_modelfile(adapter_dir / "Modelfile", base_gguf, lora, tok.eos_token)
        add_fine_tune(alias, FineTune(adapter_dir, template, base_gguf, lora))
    else:
        add_fine_tune(alias, FineTune(merged_folder(adapter_dir, tok), template))
    return f"local/{alias}"


def served_prompt_ids(model: str, messages: list[dict[str, str]]) -> list[int]:
    """The token ids a served fine-tune (local/<alias>, its server running) is fed for these messages: its template
    rendered and tokenized by the server's own code and files (llama.cpp: its Jinja formatter and the GGUF's
    vocabulary, as its chat handler does; transformers serve: the saved tokenizer's chat template)."""
    from .client.local_server import running_server, served_fine_tune

    alias = model.removeprefix("local/")
    tune = served_fine_tune(alias)
    if tune is None:
        raise BadInputError(
            f"{model} is not a fine-tune served by this kernel: serve it first with fine_tuned.serve()."
        )
    server = running_server(alias)
    if server.backend == "llama.cpp":
        from llama_cpp import Llama
        from llama_cpp._utils import suppress_stdout_stderr
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        keys = json.loads(tune.template.read_text())
        prompt = Jinja2ChatFormatter(keys["chat_template"], keys["eos_token"], keys["bos_token"])(messages=messages)
        with suppress_stdout_stderr(disable=False):  # llama.cpp's C code warns of a context it does not make
            vocab = Llama(str(server.model_path), vocab_only=True, verbose=False)
        return vocab.tokenize(prompt.prompt.encode(), add_bos=not prompt.added_special, special=True)
    from transformers import AutoTokenizer

    saved = AutoTokenizer.from_pretrained(server.model_path)
    return list(
        saved.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    )


def write_modelfile(path: Path, base_gguf: Path, lora_gguf: Path, stop: str) -> Path:
    """An Ollama Modelfile for the same model: the base GGUF, the GGUF LoRA on top, the prompt passed as it is (the
    training format), greedy. `ollama create price-ft -f Modelfile` makes it an Ollama model."""
    lines = [
        f"FROM {Path(base_gguf).resolve()}",
        f"ADAPTER {Path(lora_gguf).resolve()}",
        'TEMPLATE """{{ .Prompt }}"""',
        "PARAMETER temperature 0",
        f"PARAMETER stop {stop}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def base_folder(adapter_dir: Path) -> Path:
    """The base model an adapter was trained on, as its adapter_config.json names it."""
    return Path(json.loads((Path(adapter_dir) / "adapter_config.json").read_text())["base_model_name_or_path"])


def merged_folder(adapter_dir: Path, tok: Any) -> Path:
    """The adapter merged into its base (loaded in the dtype of its files), saved with the tokenizer and its template
    in a folder beside it: what transformers serve loads like any model (it reads no adapter folder itself)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = Path(adapter_dir) / "merged"
    base = AutoModelForCausalLM.from_pretrained(base_folder(adapter_dir), dtype="auto")
    PeftModel.from_pretrained(base, adapter_dir).merge_and_unload().save_pretrained(out)
    tok.save_pretrained(out)
    return out


def training_prompt(item: Item) -> list[dict[str, str]]:
    """An item as the served fine-tune is asked it: its training prompt, as one user message."""
    return [{"role": "user", "content": item.prompt()}]
