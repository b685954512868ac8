"""How big each experiment is on each profile: the one "small data" switch (as d2l's demo flag)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Sizes:
    """How big each experiment is: every size that differs between profiles (the d2l "small data" switch)."""

    price_train_items: int
    price_test_items: int
    perplexity_tokens: int
    pi_iterations: int
    maxsub_n: int
    timing_runs: int
    repair_rounds: int
    humaneval_problems: int
    few_shot_max_k: int
    train_steps: int
    codegen_max_tokens: int  # offline 400: a correct pi-series translation is about 250 tokens
    # the longest haystack of week 4's needle test, whose prompts also time the first token (offline 1,024 of
    # SmolLM2's 8,192: three depths at 2,048 cost another ~35 s of prompt reading on 2 cores)
    needle_max_tokens: int
    chain_items: int  # test items for the chain and tool predictors (two calls per item each)
    # week 7's style experiment: questions its LoRA learns from, held-out questions asked three ways, LoRA steps
    style_items: tuple[int, int, int]
    served_items: int  # week 7's served fine-tune: test items asked through chat(), one request each


SIZES: dict[str, Sizes] = {
    "offline": Sizes(
        price_train_items=800,
        price_test_items=40,
        perplexity_tokens=512,
        pi_iterations=2_000_000,
        maxsub_n=2_000,
        timing_runs=3,
        repair_rounds=1,
        humaneval_problems=3,
        few_shot_max_k=16,
        train_steps=32,
        codegen_max_tokens=400,
        needle_max_tokens=1024,
        chain_items=16,
        style_items=(12, 8, 4),
        served_items=16,
    ),
    "full": Sizes(
        price_train_items=8000,
        price_test_items=250,
        perplexity_tokens=2048,
        pi_iterations=200_000_000,
        maxsub_n=10_000,
        timing_runs=5,
        repair_rounds=3,
        humaneval_problems=20,
        few_shot_max_k=64,
        train_steps=1000,
        codegen_max_tokens=2000,
        needle_max_tokens=131_072,
        chain_items=250,
        style_items=(64, 50, 16),
        served_items=250,
    ),
}
# The full-profile rehearsal (standins/rehearsal.py) takes the full code paths at sizes that run in minutes on a CPU.
SIZES["rehearsal"] = replace(
    SIZES["offline"],
    price_train_items=30,
    price_test_items=10,
    perplexity_tokens=256,
    repair_rounds=1,
    humaneval_problems=1,
    few_shot_max_k=4,
    train_steps=6,
    codegen_max_tokens=300,
    needle_max_tokens=1024,
    chain_items=5,
    style_items=(8, 4, 2),
)
