"""Week 7: style and tone, a system prompt against a tiny LoRA, on one style a function can check: a reply written
entirely in lowercase. The LoRA learns from the model's own answers rewritten in that style, so it learns the style,
not new content."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .errors import BadInputError
from .prices import Item
from .training import FineTuneConfig, lora_model

STYLE_RULE = "Write your whole reply in lowercase letters: no capital letters at all."
REPLY_TOKENS = 12  # each reply's first tokens: enough to show a style, the same cap for every model compared


def in_style(reply: str) -> bool:
    """The style, checked: the reply has letters and none of them is a capital."""
    return any(c.isalpha() for c in reply) and reply == reply.lower()


def questions_about(items: Sequence[Item]) -> list[str]:
    """One open question per product: an answer in a sentence, where a style shows."""
    return [f"In one sentence, what is this product and who would buy it? {item.title}" for item in items]


def messages(question: str, system: str | None = None) -> list[dict[str, str]]:
    """The question as a chat, after the system prompt when there is one."""
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]


def chat_text(tok: Any, question: str, system: str | None = None) -> str:
    """The chat as the model reads it, ending where its reply begins."""
    return tok.apply_chat_template(messages(question, system), tokenize=False, add_generation_prompt=True)


@torch.no_grad()
def replies(
    model: Any, tok: Any, questions: Sequence[str], system: str | None = None, max_new_tokens: int = REPLY_TOKENS
):
    """Greedy replies to many questions at once, each its first max_new_tokens tokens, left-padded so every prompt
    ends where generation starts."""
    tok.padding_side = "left"
    batch = tok(
        [chat_text(tok, q, system) for q in questions], return_tensors="pt", padding=True, add_special_tokens=False
    ).to(model.device)
    out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    return [tok.decode(row[batch["input_ids"].shape[1] :], skip_special_tokens=True).strip() for row in out]


def train_style_lora(
    model: Any,
    tok: Any,
    questions: Sequence[str],
    answers: Sequence[str],
    steps: int = 10,
    batch_size: int = 8,
    lr: float = 3e-3,
    seed: int = 0,
) -> tuple[Any, list[float]]:
    """A rank-8 LoRA on the attention projections of the upper half of the layers, trained on (question, answer)
    chats with the loss on the answer only; the logits are computed for the answer's positions alone (the rest of
    each row needs none). Returns the peft model and the loss at each step."""
    if len(questions) != len(answers) or len(questions) < batch_size:
        raise BadInputError(f"Style training needs at least {batch_size} question-answer pairs, got {len(answers)}.")
    torch.manual_seed(seed)
    model = lora_model(model, FineTuneConfig(dropout=0.0, top_layers=model.config.num_hidden_layers // 2))
    examples = []
    for question, answer in zip(questions, answers):
        prompt = tok(chat_text(tok, question), add_special_tokens=False)["input_ids"]
        reply = tok(answer, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        examples.append((prompt + reply, len(reply)))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    losses = []
    for step in range(steps):
        start = step * batch_size % len(examples)
        batch = (examples * 2)[start : start + batch_size]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.tensor([[tok.pad_token_id] * (width - len(x)) + x for x, _ in batch], device=model.device)
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x, _ in batch], device=model.device)
        keep = max(n for _, n in batch) + 1  # the last prompt token predicts the answer's first
        logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits[:, :-1]
        targets = ids[:, width - keep + 1 :].clone()
        for row, (_, n) in enumerate(batch):
            targets[row, : keep - 1 - n] = -100  # prompt tokens inside the kept window: no loss
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return model, losses
