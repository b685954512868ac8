"""Week 7's training plan: the fastest LoRA set-up that fits a GPU's memory (bf16, QLoRA, QLoRA + checkpointing)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

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


# ----------------------------------------------------------------------------------------------------------------
# More than one GPU: data parallel (DDP) where the model fits one card, FSDP with QLoRA where it does not
# ----------------------------------------------------------------------------------------------------------------
STRATEGIES = ("one GPU", "DDP", "FSDP + QLoRA")


@dataclass(frozen=True)
class ClusterPlan:
    """How to train on n GPUs of one kind: the strategy, each process's set-up, its memory, and why."""

    strategy: str  # one of STRATEGIES
    processes: int
    per_device: TrainingPlan  # batch per process, accumulation, mode and dtype
    memory_gb_per_gpu: float
    cpu_offload: bool  # FSDP keeps each shard in CPU memory between uses
    reason: str

    @property
    def global_batch(self) -> int:
        """Items per optimiser step, over every process."""
        return self.per_device.batch_size * self.per_device.grad_accum * self.processes

    @property
    def fsdp(self) -> bool:
        """FSDP + QLoRA? Then the base is loaded sharded, its 4-bit weights packed in the compute dtype
        (training.load_kwargs), and launched by `accelerate launch` with accelerate_config()."""
        return self.strategy == "FSDP + QLoRA"

    def accelerate_config(self) -> dict[str, object]:
        """The Accelerate config this plan launches with (`accelerate launch --config_file`)."""
        precision = {"bfloat16": "bf16", "float16": "fp16"}.get(self.per_device.compute_dtype, "no")
        config: dict[str, object] = {
            "compute_environment": "LOCAL_MACHINE",
            "distributed_type": {"one GPU": "NO", "DDP": "MULTI_GPU", "FSDP + QLoRA": "FSDP"}[self.strategy],
            "num_machines": 1,
            "num_processes": self.processes,
            "mixed_precision": precision,
            "use_cpu": False,
        }
        if self.fsdp:  # peft's FSDP + QLoRA guide (docs/source/accelerate/fsdp.md, v0.21.2)
            config["fsdp_config"] = {
                "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",  # with peft's fsdp_auto_wrap_policy at run time
                "fsdp_sharding_strategy": "FULL_SHARD",
                "fsdp_use_orig_params": False,  # frozen and trainable weights wrapped apart: the memory saving
                "fsdp_cpu_ram_efficient_loading": True,  # rank 0 loads the weights, the others receive them
                "fsdp_sync_module_states": True,
                "fsdp_offload_params": self.cpu_offload,
                "fsdp_state_dict_type": "SHARDED_STATE_DICT",  # checkpoints; FULL_STATE_DICT is set before saving
                "fsdp_backward_prefetch": "BACKWARD_PRE",
            }
        return config


def plan_cluster(
    device: GPU | None,
    n_gpus: int,
    params_b: float,
    layers: int = 32,
    global_batch: int = 16,
    seq_len: int = ITEM_TOKENS,
) -> ClusterPlan:
    """The fastest way to train on n GPUs of one kind: one GPU; DDP (a whole copy per card, the batch split) where
    the model fits one card; else FSDP with QLoRA (the 4-bit weights sharded across cards), with CPU offload when
    even a shard does not fit. A clear error for what cannot run (no GPU, or too large for the node)."""
    if device is None:
        raise BadInputError(
            "DDP and FSDP plans are for GPUs: on a CPU, FSDP does not run in practice, and NCCL needs GPUs. "
            "Rehearse data parallelism on the CPU with `torchrun --nproc_per_node=2` (gloo) instead."
        )
    if n_gpus < 1:
        raise BadInputError(f"n_gpus must be at least 1, got {n_gpus}.")
    per_batch = max(1, global_batch // n_gpus)
    try:
        one = plan_training(device, params_b, per_batch, seq_len)
        one = replace(one, grad_accum=max(1, global_batch // (one.batch_size * n_gpus)))  # keep the global batch
        strategy = "one GPU" if n_gpus == 1 else "DDP"
        why = f"{one.reason}: each of the {n_gpus} cards holds a whole copy" if n_gpus > 1 else one.reason
        return ClusterPlan(strategy, n_gpus, one, one.memory_gb, False, why)
    except BadInputError:
        if n_gpus == 1:
            raise
    usable, dtype = USABLE_MEMORY * device.memory_gb, "bfloat16" if device.bf16 else "float16"
    mode, weights = "4-bit + checkpointing", params_b * QLORA_WEIGHT_BYTES
    batch = per_batch
    while batch >= 1:
        activations = memory_needed_gb(params_b, mode, batch * seq_len) - weights - HEADROOM_GB
        sharded = weights / n_gpus + activations + HEADROOM_GB
        offloaded = 2 * weights / layers + activations + HEADROOM_GB  # one gathered layer, and the next prefetched
        for need, offload in ((sharded, False), (offloaded, True)):
            if need <= usable:
                accum = max(1, global_batch // (batch * n_gpus))
                plan = TrainingPlan(mode, dtype, batch, accum, need, "")
                where = "in CPU memory between uses (offload)" if offload else "on the cards"
                why = (
                    f"{params_b:.0f}B does not fit one {device.name} even in 4-bit: FSDP shards its 4-bit weights "
                    f"({weights:.0f} GB) over {n_gpus} cards, kept {where}; about {need:.0f} GB of {usable:.0f} "
                    "usable per card"
                )
                return ClusterPlan("FSDP + QLoRA", n_gpus, plan, need, offload, why)
        batch //= 2
    raise BadInputError(
        f"A {params_b:.0f}B model does not fit {n_gpus} x {device.name} even with FSDP, QLoRA and CPU offload: "
        "use more or larger GPUs, or a smaller model."
    )


def write_accelerate_config(plan: ClusterPlan, path: str | Path) -> Path:
    """Write the plan's Accelerate config as YAML (what `accelerate launch --config_file` reads)."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(plan.accelerate_config(), sort_keys=False))
    return path


NODES = [  # (GPU in hardware.GPUS, how many, model id in data/model_facts.csv): a Kaggle pair, a lab's L4s, H100s, 70B
    ("T4", 2, "meta-llama/Llama-3.1-8B"),
    ("L4", 4, "meta-llama/Llama-3.1-8B"),
    ("H100 80GB", 8, "meta-llama/Llama-3.1-8B"),
    ("H100 80GB", 8, "meta-llama/Llama-3.1-70B"),
    ("L4", 2, "meta-llama/Llama-3.1-70B"),
]


def plan_for_model(gpu: GPU, n: int, model_id: str, facts: pd.DataFrame | None = None) -> ClusterPlan:
    """plan_cluster for a model of data/model_facts.csv on n cards of one kind, sized by its parameters and layers
    (facts: that table indexed by model, when the caller has read it already)."""
    from .catalog import model_facts

    fact = (model_facts().set_index("model") if facts is None else facts).loc[model_id]
    return plan_cluster(gpu, n, float(fact["params_b"]), int(fact["layers"]))


def node_plans(nodes: list[tuple[str, int, str]] = NODES) -> pd.DataFrame:
    """Planned, not trained: the strategy and memory per GPU of plan_cluster for each (GPU, count, model) node."""
    from .catalog import model_facts
    from .hardware import GPUS

    facts, rows = model_facts().set_index("model"), []
    for gpu, n, model_id in nodes:
        fact = facts.loc[model_id]
        plan = plan_for_model(GPUS[gpu], n, model_id, facts)  # the table read once, not once per node
        rows.append(
            {
                "node": f"{n} x {gpu}",
                "model": fact["name"],
                "strategy": plan.strategy,
                "mode": plan.per_device.mode,
                "batch per GPU x accumulation": f"{plan.per_device.batch_size} x {plan.per_device.grad_accum}",
                "GB per GPU (estimate)": round(plan.memory_gb_per_gpu, 1),
                "CPU offload": plan.cpu_offload,
            }
        )
    return pd.DataFrame(rows)
