"""Week 6, model-centric: cross-entropy by hand, perplexity, sliding windows and per-token surprise."""

from __future__ import annotations

import html
import math
from typing import Any

import torch

from .errors import BadInputError


def loss_of_probability(p: float) -> float:
    """Cross-entropy for one prediction that gave the true token probability p: -ln p."""
    if not 0 < p <= 1:
        raise BadInputError(f"A probability must be in (0, 1], got {p}.")
    return math.log(1 / p)  # not -ln p: for p = 1 that is -0.0, printed "-0.0000"


def perplexity(loss: float) -> float:
    """Perplexity = exp(mean cross-entropy): the number of equally likely choices the model is torn between."""
    return math.exp(loss)


def _device(model: Any) -> torch.device:
    return getattr(model, "device", None) or next(model.parameters()).device


def token_surprises(model: Any, tokenizer: Any, text: str) -> list[tuple[str, float]]:
    """Each token of text with its surprise in bits (-log2 p) under the model; the first token has none. The text
    starts with the BOS token where the tokenizer adds one (Llama), as the model saw in training."""
    ids = tokenizer(text, return_tensors="pt")["input_ids"].to(_device(model))
    if ids.shape[1] < 2:
        raise BadInputError("Give at least two tokens of text to measure surprise.")
    with torch.no_grad():
        logits = model(ids).logits[0, :-1].double()
    log_p = torch.log_softmax(logits, dim=-1).gather(-1, ids[0, 1:].unsqueeze(-1)).squeeze(-1)
    bits = (-log_p / math.log(2)).tolist()
    pieces = [tokenizer.decode([i]) for i in ids[0].tolist()]
    return [(pieces[0], float("nan"))] + list(zip(pieces[1:], bits))


def sliding_window_loss(
    model: Any, tokenizer: Any, text: str, max_tokens: int = 1024, window: int = 512, stride: int = 256
) -> tuple[float, int]:
    """(mean loss, tokens scored) over up to max_tokens of text, each window scoring only tokens not scored before;
    the text starts with the BOS token where the tokenizer adds one (without it Llama's loss is needlessly high)."""
    if stride < 1 or window < 2 or stride > window:
        raise BadInputError("Need window >= 2 and 1 <= stride <= window.")
    ids = tokenizer(text, return_tensors="pt")["input_ids"][:, :max_tokens].to(_device(model))
    n = ids.shape[1]
    if n < 2:
        raise BadInputError("The text is too short to measure: it has fewer than two tokens.")
    total, counted, prev_end = 0.0, 0, 0
    for begin in range(0, n, stride):
        end = min(begin + window, n)
        chunk = ids[:, begin:end]
        labels = chunk.clone()
        new = end - prev_end  # tokens this window scores for the first time
        labels[:, : chunk.shape[1] - new] = -100
        with torch.no_grad():
            out = model(chunk, labels=labels)
        scored = int((labels[:, 1:] != -100).sum())
        total += out.loss.item() * scored
        counted += scored
        prev_end = end
        if end == n:
            break
    return total / counted, counted


def surprise_html(surprises: list[tuple[str, float]], max_bits: float = 12.0) -> str:
    """Tokens as coloured spans: white for expected, deep red for surprising; hover shows the bits."""
    spans = []
    for piece, bits in surprises:
        level = 0.0 if math.isnan(bits) else min(bits / max_bits, 1.0)
        colour = f"rgba(220, 40, 40, {level:.2f})"
        title = "first token" if math.isnan(bits) else f"{bits:.1f} bits"
        text = html.escape(piece).replace("\n", "↵<br>")
        spans.append(f'<span title="{title}" style="background:{colour};padding:1px 0">{text}</span>')
    return '<div style="font-family:monospace;line-height:1.8">' + "".join(spans) + "</div>"


def bits_per_character(mean_loss: float, tokens: int, characters: int) -> float:
    """Total surprise in bits divided by characters: comparable across tokenizers, unlike per-token perplexity."""
    if characters <= 0:
        raise BadInputError("characters must be positive.")
    return mean_loss * tokens / math.log(2) / characters
