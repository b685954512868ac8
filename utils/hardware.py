"""GPUs and what a weight takes in memory: one home for hosting (week 4) and fine-tuning (week 7)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BadInputError

BYTES_PER_WEIGHT = {"bf16": 2.0, "8-bit": 1.0, "4-bit": 0.5}  # 16-bit, int8, NF4/int4 (scales not counted)
USABLE_MEMORY = 0.9  # the share of a GPU's memory a plan fills: the rest goes to the CUDA context and fragmentation


@dataclass(frozen=True)
class GPU:
    """A GPU: its name, memory, whether it computes in bf16 natively, and its memory bandwidth (data sheet)."""

    name: str
    memory_gb: float
    bf16: bool
    bandwidth_gb_s: float | None = None

    def bandwidth(self) -> float:
        """Memory bandwidth in GB/s; a clear error for a GPU described without it."""
        if not self.bandwidth_gb_s:
            raise BadInputError(f"{self.name} has no memory bandwidth given: describe it with bandwidth_gb_s.")
        return self.bandwidth_gb_s


GPUS = {  # NVIDIA product data sheets (H100 SXM, A100 80GB SXM, L4, T4); bf16 natively from compute capability 8.0
    "H100 80GB": GPU("H100 80GB", 80, True, 3350),
    "A100 80GB": GPU("A100 80GB", 80, True, 2039),
    "L4": GPU("L4", 24, True, 300),
    "T4": GPU("T4", 16, False, 320),
}

# LoRA training of Llama 3.1 8B on one H100 80GB, tokens/s: measured by benchmarks/week7_training.py --shapes
# (benchmarks/README.md, "Week 7 training on GPUs"); week 4 costs a course-sized fine-tune with them
H100_LORA_TOKENS_PER_S = {"QLoRA + checkpointing": 3_600, "bf16 LoRA": 8_800}

# Colab's free GPU as torch reports it (a 16 GB card, 14.7 GiB usable; compute capability 7.5): what the training
# plan is checked against in the tests, and what the rehearsal plans for on a CPU.
COLAB_T4 = GPU("Tesla T4", 14.7, False, 320)


def native_bf16() -> bool:
    """True when this machine's GPU computes in bf16 natively: compute capability 8.0 or more (Ampere and later).
    torch.cuda.is_bf16_supported() also answers True on a T4 (7.5), where bf16 is emulated and slow."""
    import torch

    return torch.cuda.is_available() and torch.cuda.get_device_capability(0) >= (8, 0)


def current_gpu() -> GPU | None:
    """This machine's GPU as torch reports it (None without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return GPU(props.name, props.total_memory / 1024**3, native_bf16())


def reset_peak_memory() -> None:
    """Start a new peak for peak_memory_gb (the GPU allocator's; a process's resident peak cannot be reset)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gb() -> float:
    """Peak memory of this run in GiB: the GPU allocator's on CUDA, else this process's resident set."""
    import resource

    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 1024**3
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
