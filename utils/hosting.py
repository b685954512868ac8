"""What a model costs to host and to fine-tune: memory for weights and KV cache, GPUs, throughput, dollars."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .catalog import gpu_monthly_cost
from .errors import BadInputError
from .hardware import BYTES_PER_WEIGHT, GPU, USABLE_MEMORY
from .paths import DATA_DIR


def kv_bytes_per_token(layers: int, kv_heads: int, head_dim: int, bytes_per_value: float = 2.0) -> float:
    """Bytes the KV cache holds per token: a key and a value vector per KV head per layer."""
    return 2 * layers * kv_heads * head_dim * bytes_per_value


def kv_bytes_from_config(config: Any, bytes_per_value: float = 2.0) -> float:
    """kv_bytes_per_token from a transformers config (head_dim, else hidden_size / attention heads)."""
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return kv_bytes_per_token(config.num_hidden_layers, kv_heads, head_dim, bytes_per_value)


def serving_memory_gb(params_b: float, weights: str, kv_per_token: float, context: int, batch: int) -> float:
    """GB to serve: the weights at a precision plus a full KV cache (bf16) for `batch` sequences of `context` tokens."""
    if weights not in BYTES_PER_WEIGHT:
        raise BadInputError(f"weights must be one of {', '.join(BYTES_PER_WEIGHT)}, got {weights!r}.")
    if context < 1 or batch < 1:
        raise BadInputError(f"context and batch must be at least 1, got {context} and {batch}.")
    return (params_b * 1e9 * BYTES_PER_WEIGHT[weights] + kv_per_token * context * batch) / 1e9


def gpus_needed(memory_gb: float, gpu: GPU) -> int:
    """GPUs of one type whose usable memory holds memory_gb."""
    return max(1, math.ceil(memory_gb / (gpu.memory_gb * USABLE_MEMORY)))


def decode_tokens_per_s(
    params_b: float, weights: str, kv_per_token: float, context: int, batch: int, gpu: GPU, n_gpus: int = 1
) -> float:
    """Upper bound on generated tokens/s: each step reads every weight and every cached token once from memory."""
    gb_per_step = serving_memory_gb(params_b, weights, kv_per_token, context, batch)
    return batch * n_gpus * gpu.bandwidth() / gb_per_step


def self_hosting_table(
    models: pd.DataFrame, gpu: GPU, hourly_usd: float, context: int, batch: int, output_tokens_per_day: float
) -> pd.DataFrame:
    """Per model and precision: memory, GPUs, monthly cost, and whether those GPUs can generate the day's volume."""
    rows = []
    for m in models.itertuples():
        kv = kv_bytes_per_token(m.layers, m.kv_heads, m.head_dim)
        for weights in BYTES_PER_WEIGHT:
            mem = serving_memory_gb(m.params_b, weights, kv, context, batch)
            n = gpus_needed(mem, gpu)
            capacity = decode_tokens_per_s(m.params_b, weights, kv, context, batch, gpu, n) * 86_400
            rows.append(
                {
                    "model": m.model,
                    "weights": weights,
                    "memory_gb": round(mem, 1),
                    "gpus": n,
                    "monthly_usd": round(n * gpu_monthly_cost(hourly_usd)),
                    "max_output_tokens_per_day": capacity,
                    "serves_the_volume": capacity >= output_tokens_per_day,
                }
            )
    return pd.DataFrame(rows)


def fine_tuning_cost(items: int, tokens_per_item: float, epochs: float, tokens_per_s: float, hourly_usd: float) -> dict:
    """Tokens to train, hours at a throughput, and dollars at an hourly rate."""
    if min(items, tokens_per_item, epochs, tokens_per_s) <= 0 or hourly_usd < 0:
        raise BadInputError("items, tokens per item, epochs and tokens/s must be positive; the rate at least 0.")
    tokens = items * tokens_per_item * epochs
    hours = tokens / tokens_per_s / 3600
    return {"tokens": tokens, "hours": hours, "usd": hours * hourly_usd}


def moe_models() -> pd.DataFrame:
    """Real mixture-of-experts models: total and active parameters, experts, source and date per row."""
    return pd.read_csv(DATA_DIR / "moe_models.csv")
