"""The paid calls each notebook is about to make, for its estimate on the full profile (`spend.print_estimate`):
how many calls to which model, with input tokens measured on the notebook's own prompts. The offline profile pays
for nothing: there each plan is empty, and nothing is counted."""

from __future__ import annotations

import json
from statistics import mean
from typing import Any, Callable, Sequence

from . import codegen as cg
from . import prompting as st
from .client.spend import Planned
from .long_context import haystack_lengths
from .paths import DATA_DIR
from .tokens import chat_tokens


def week4_speed(profile: Any, model: str, latency_prompt: str) -> list[Planned]:
    """Week 4 part 1, section 3: three streamed answers."""
    if profile.offline:
        return []
    return [Planned(model, 3, chat_tokens([{"role": "user", "content": latency_prompt}]), 80)]


def week4_context(profile: Any, model: str) -> list[Planned]:
    """Week 4 part 2, section 1: a chat trimmed to 1,024 tokens, the needle grid."""
    if profile.offline:
        return []
    needle_lengths = haystack_lengths(model, profile.sizes.needle_max_tokens)
    return [
        Planned(model, 1, 1024, 30),
        Planned(model, 3 * len(needle_lengths), mean(needle_lengths), 12),  # three depths a length, the first token
    ]


def week5(profile: Any, models: Sequence[str], programs: dict[str, tuple[str, str]]) -> list[Planned]:
    """Week 5, sections 6 and 8, at the worst case: every attempt needing every repair round, a repair sending back
    the code and the compiler's words or the output difference."""
    if profile.offline:
        return []

    course = [chat_tokens(cg.first_messages(py)) for py, _ in programs.values()]
    humaneval = [
        chat_tokens(cg.first_messages(src)) for src in cg.humaneval_programs(profile.sizes.humaneval_problems).values()
    ]
    cap, rounds = profile.sizes.codegen_max_tokens, profile.sizes.repair_rounds
    repair = cap + 300
    return [
        plan
        for m in models
        for plan in (
            Planned(m, len(course), mean(course), cap),
            Planned(m, len(course) * rounds, mean(course) + repair, cap),
            Planned(m, len(humaneval), mean(humaneval), cap),
            Planned(m, len(humaneval), mean(humaneval) + repair, cap),  # section 8 allows one repair
        )
    ]


def week6_strategies(profile: Any, model: str, data: Any, ks: Sequence[int]) -> list[Planned]:
    """Week 6/02: zero-shot and JSON replies, the few-shot curve on the validation items and its best k, RAG with
    three similar items, and the handbook answer; each kind of prompt's tokens counted on ten of its items."""
    if profile.offline:
        return []

    def tokens_of(build: Callable[[Any], list[dict[str, str]]], items: Sequence[Any]) -> float:
        return mean(chat_tokens(build(item)) for item in items[:10])

    def k_shot(k: int) -> Callable[[Any], list[dict[str, str]]]:
        return lambda item: st.few_shot_messages(item, data.train[:k])

    n_test, n_val = len(data.test), len(data.val)
    return [
        Planned(model, n_test, tokens_of(st.zero_shot_messages, data.test), 10),
        Planned(model, n_test, tokens_of(st.zero_shot_messages, data.test), 24),
        *[Planned(model, n_val, tokens_of(k_shot(k), data.val), 10) for k in ks],
        Planned(model, n_test, tokens_of(k_shot(max(ks)), data.test), 10),
        Planned(model, n_test, tokens_of(k_shot(3), data.test), 10),
        Planned(model, 1, 1_200, 80),
    ]


def week6_chains(profile: Any, model: str, items: Sequence[Any]) -> list[Planned]:
    """Week 6/03, section by section: the chain, the tools, the handbook, the cut-off facts, the manual and the
    injection trials; each reply at its cap."""
    if profile.offline:
        return []

    def count(name: str) -> int:
        return len(json.loads((DATA_DIR / "knowledge" / name).read_text()))

    per_item = mean(chat_tokens(st.zero_shot_messages(item)) for item in items[:10])
    page = max(chat_tokens([{"role": "user", "content": p.read_text()}]) for p in (DATA_DIR / "handbook").glob("*.md"))
    manual = chat_tokens([{"role": "user", "content": (DATA_DIR / "knowledge" / "frame_codes.md").read_text()}])
    n_facts = len(json.loads((DATA_DIR / "knowledge" / "after_cutoff.json").read_text())["facts"])
    n_frame, n_inject, half = count("frame_questions.json"), count("injection_questions.json"), max(10, len(items) // 2)
    return [
        Planned(model, len(items), per_item, 10),  # 1: one call
        Planned(model, len(items), per_item + 50, 60),  # 1: the chain's first step
        Planned(model, len(items), 120, 10),  # 1: its second step
        Planned(model, len(items) + half, per_item + 150, 48),  # 2: asking for a tool call, both ways
        Planned(model, len(items) + half, per_item + 400, 10),  # 2: answering with the tool's results
        Planned(model, 2, page + 40, 24),  # 3: the handbook question, before and after
        Planned(model, 2 * n_facts, 80, 32),  # 4: each fact without and with its passage
        Planned(model, n_frame, 60, 32),  # 5: without the manual
        Planned(model, n_frame, manual + 60, 32),  # 5: with it
        Planned(model, 8 * n_inject, page + 120, 24),  # 6: each question poisoned, two sources, four prompts
    ]
