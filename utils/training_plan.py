"""Week 7's training plan: the fastest LoRA set-up that fits a GPU's memory (bf16, QLoRA, QLoRA + checkpointing)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BadInputError
from .hardware import BYTES_PER_WEIGHT, GPU, USABLE_MEMORY

ITEM_TOKENS = 182  # the full profile's training cut-off per item: prompt and price tokens
COURSE_TRAIN_ITEMS = 400_000  # the course's full training set (items per epoch)

# GB of activations per token of the batch per billion parameters, fitted to one H100 run of the course's shape
# (Llama-3.1-8B, LoRA r=32 on q/k/v/o, batch 16 x 182 tokens): 16-bit 39 GiB, 4-bit 43 GiB, 4-bit + checkpointing 13.
ACTIVATION_GB = {"16-bit": 1.0e-3, "4-bit": 1.6e-3, "4-bit + checkpointing": 0.32e-3}
# GB per billion weights while training: NF4 weights, plus their scales and the norms, embeddings and head that
# prepare_model_for_kbit_training keeps in 16 or 32 bits (0.2 more per weight, fitted to the same run)
QLORA_WEIGHT_BYTES = BYTES_PER_WEIGHT["4-bit"] + 0.2
WEIGHT_BYTES = {
    "16-bit": BYTES_PER_WEIGHT["bf16"],
    "4-bit": QLORA_WEIGHT_BYTES,
    "4-bit + checkpointing": QLORA_WEIGHT_BYTES,
}
HEADROOM_GB = 2.0  # CUDA context, LoRA weights, optimiser state, fragmentation


def memory_needed_gb(params_b: float, mode: str, tokens_per_batch: int) -> float:
    """Estimated peak GPU memory for LoRA training of a params_b-billion model in a mode (see ACTIVATION_GB)."""
    return params_b * WEIGHT_BYTES[mode] + tokens_per_batch * params_b * ACTIVATION_GB[mode] + HEADROOM_GB


@dataclass(frozen=True)
class TrainingPlan:
    """The fastest configuration that fits a device, and why."""

    mode: str  # "16-bit", "4-bit", "4-bit + checkpointing", or "cpu"
    compute_dtype: str
    batch_size: int
    grad_accum: int
    memory_gb: float
    reason: str

    @property
    def quantize_4bit(self) -> bool:
        """QLoRA (NF4 weights)?"""
        return self.mode.startswith("4-bit")

    @property
    def gradient_checkpointing(self) -> bool:
        """Recompute activations in the backward pass?"""
        return self.mode.endswith("checkpointing")


def plan_training(
    device: GPU | None, params_b: float, batch_size: int = 16, seq_len: int = ITEM_TOKENS
) -> TrainingPlan:
    """bf16 LoRA without checkpointing where it fits (fastest), then QLoRA, then QLoRA with checkpointing, halving the
    batch (and doubling accumulation) only when even that does not fit; fp16 compute where bf16 is missing."""
    if device is None:
        return TrainingPlan("cpu", "float32", batch_size, 1, float("nan"), "no GPU: full-precision LoRA on the CPU")
    dtype = "bfloat16" if device.bf16 else "float16"
    usable = USABLE_MEMORY * device.memory_gb
    accum = 1
    while batch_size >= 1:
        for mode in ACTIVATION_GB:
            need = memory_needed_gb(params_b, mode, batch_size * seq_len)
            if need <= usable:
                full = memory_needed_gb(params_b, "16-bit", batch_size * seq_len)
                faster = "" if mode == "16-bit" else f"; 16-bit LoRA would need {full:.0f} GB"
                why = (
                    f"{device.name} ({device.memory_gb:.0f} GB, {'bf16' if device.bf16 else 'no bf16: fp16'}): "
                    f"{mode} LoRA needs about {need:.0f} GB of {usable:.0f} usable{faster}"
                )
                return TrainingPlan(mode, dtype, batch_size, accum, need, why)
        batch_size, accum = batch_size // 2, accum * 2
    raise BadInputError(
        f"A {params_b:.0f}B model does not fit {device.name} ({device.memory_gb:.0f} GB) even in 4-bit "
        "with batch 1: choose a smaller model or a larger GPU."
    )
