"""Real tokenizers (Llama 3, GPT-4, GPT-4o, Qwen, SmolLM2) behind one small interface, and context-window helpers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, Callable, Iterable

from .errors import BadInputError, ContextTooLongError

# quicktok encodings ship inside the package: exact BPE, same ids as the models' own tokenizers.
QUICKTOK = {"llama3": "llama3", "gpt-4 (cl100k)": "cl100k_base", "gpt-4o (o200k)": "o200k_base", "qwen2.5/3": "qwen3"}
TOKENIZERS = (*QUICKTOK, "smollm2")


@dataclass
class Tokenizer:
    """A name with encode/decode functions."""

    name: str
    encode: Callable[[str], list[int]]
    decode: Callable[[list[int]], str]

    def count(self, text: str) -> int:
        """Number of tokens in text."""
        return len(self.encode(text))

    def pieces(self, text: str) -> list[str]:
        """The text cut where the tokenizer cuts it."""
        return [self.decode([i]) for i in self.encode(text)]


@cache
def get_tokenizer(name: str) -> Tokenizer:
    """One of TOKENIZERS, loaded from installed packages."""
    if name in QUICKTOK:
        import quicktok

        enc = quicktok.get_encoding(QUICKTOK[name])
        return Tokenizer(name, lambda t: list(enc.encode_ordinary(t)), lambda ids: enc.decode(list(ids)))
    if name == "smollm2":
        tok = smollm2_tokenizer()
        return Tokenizer(name, lambda t: tok.encode(t, add_special_tokens=False), lambda ids: tok.decode(ids))
    raise BadInputError(f"Unknown tokenizer {name!r}; choose one of {', '.join(TOKENIZERS)}.")


ESTIMATE_TOKENIZER = "gpt-4o (o200k)"  # for a model the kit has no tokenizer for: counts are then estimates


def tokenizer_for(model: str) -> tuple[Tokenizer, bool]:
    """The asked model's own tokenizer where the kit has one ('provider/model'), and True; else o200k's, and False
    (its counts are then estimates for that model)."""
    provider, _, path = model.lower().partition("/")
    name = path.rsplit("/", 1)[-1]  # a router's 'openai/gpt-5' or 'meta-llama/llama-3.1-8b' by the model's own id
    if provider == "local":  # the models the kit serves itself: SmolLM2 and its fine-tunes
        family = "smollm2"
    elif name.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4")):
        family = "gpt-4o (o200k)"
    elif name.startswith(("gpt-4", "gpt-3.5")):
        family = "gpt-4 (cl100k)"
    elif any(piece in name for piece in ("llama-3", "llama3")):  # Llama 4 has another vocabulary
        family = "llama3"
    elif any(piece in name for piece in ("qwen2.5", "qwen3", "qwen-2.5", "qwen-3")):
        family = "qwen2.5/3"
    else:
        return get_tokenizer(ESTIMATE_TOKENIZER), False
    return get_tokenizer(family), True


@lru_cache(maxsize=1)
def smollm2_tokenizer() -> Any:
    """SmolLM2's own transformers tokenizer (with its chat template), from the cached model folder."""
    from transformers import AutoTokenizer

    from .assets import smollm2_folder

    return AutoTokenizer.from_pretrained(smollm2_folder())


def number_token_counts(tokenizer: Tokenizer, numbers: Iterable[int] = range(1000)) -> list[int]:
    """Tokens each number takes when written as digits."""
    return [tokenizer.count(str(n)) for n in numbers]


def render_chat(messages: list[dict[str, str]], tokenizer: Any = None, add_generation_prompt: bool = True) -> str:
    """The one long text a chat model really sees for a conversation (its chat template applied)."""
    tok = tokenizer or smollm2_tokenizer()
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


# Llama 3's published chat format (header tokens around each role, <|eot_id|> after each turn), for when the
# gated Hugging Face tokenizer and its template are not available; token ids come from quicktok's Llama 3 vocabulary.
LLAMA3_CHAT_TEMPLATE = (
    "<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


def render_llama3_chat(messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """A conversation in Llama 3's chat format."""
    import jinja2

    template = jinja2.Environment(autoescape=False).from_string(LLAMA3_CHAT_TEMPLATE)
    return template.render(messages=messages, add_generation_prompt=add_generation_prompt)


def llama3_chat_tokens(messages: list[dict[str, str]]) -> int:
    """Tokens a conversation takes for Llama 3, special tokens counted as one each."""
    import quicktok

    return len(quicktok.get_encoding("llama3").encode_with_special_tokens(render_llama3_chat(messages)))


def chat_tokens(messages: list[dict[str, str]], tokenizer: Any = None) -> int:
    """Tokens a conversation takes once rendered through the chat template."""
    tok = tokenizer or smollm2_tokenizer()
    return len(tok(render_chat(messages, tok), add_special_tokens=False)["input_ids"])


def fit_to_context(
    messages: list[dict[str, str]], limit: int, reserve_for_answer: int = 0, tokenizer: Any = None
) -> list[dict[str, str]]:
    """Drop the oldest user/assistant turns (keeping the system prompt and the last turn) until the chat fits."""
    kept = list(messages)
    budget = limit - reserve_for_answer
    while chat_tokens(kept, tokenizer) > budget:
        drop = next((i for i, m in enumerate(kept[:-1]) if m["role"] != "system"), None)
        if drop is None:
            raise ContextTooLongError(
                f"Even the system prompt and the last message take {chat_tokens(kept, tokenizer)} tokens, "
                f"more than the {budget} available: shorten the message."
            )
        kept.pop(drop)
    return kept


def text_samples() -> dict[str, str]:
    """Real texts of four kinds: English news, Python code (the standard library's own), Korean, Russian."""
    import json.decoder
    import textwrap

    from .assets import corpus
    from .paths import DATA_DIR

    code = "".join(open(m.__file__, encoding="utf-8").read() for m in (json.decoder, textwrap))
    return {
        "English news": corpus("english_news"),
        "Python code": code,
        "Korean": (DATA_DIR / "text" / "korean_sample.txt").read_text(encoding="utf-8"),
        "Russian novel": corpus("russian_novel")[:6000],
    }


def text_density(texts: dict[str, str], names: Iterable[str] = TOKENIZERS) -> Any:
    """Per text and tokenizer: characters, words and lines per token (how much text a token window holds)."""
    import pandas as pd

    rows = []
    for name in names:
        tok = get_tokenizer(name)
        for kind, text in texts.items():
            n = tok.count(text)
            rows.append(
                {
                    "text": kind,
                    "tokenizer": name,
                    "tokens": n,
                    "chars_per_token": len(text) / n,
                    "words_per_token": len(text.split()) / n,
                    "lines_per_token": len(text.strip().splitlines()) / n,
                }
            )
    return pd.DataFrame(rows)
