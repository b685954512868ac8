"""The providers as data: where each one is, its key variables, today's default model and its endpoint's rules.

Defaults and rules are checked against the pages each `Provider.checked` names; `LLMKIT_CHAT_MODELS` and
`LLMKIT_CODE_MODEL` choose other models without editing code.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from ..assets import models_dev_table
from ..errors import UnknownModelError
from .local_server import local_aliases


@dataclass(frozen=True, kw_only=True)
class Provider:
    """An OpenAI-compatible endpoint and what the kit knows about it."""

    base_url: str | None  # None: the openai SDK's own (api.openai.com)
    key_vars: tuple[str, ...]
    catalog_id: str | None  # the provider's id in the models-dev table
    default_model: str | None = None  # the chat model the full profile uses when this provider's key is set
    checked: str = ""  # where and when the default (and the rules below) were checked
    sends_seed: bool = True  # False: the endpoint rejects `seed`
    lowest_effort: str | None = None  # reasoning_effort that keeps a reasoning model's thinking smallest
    thinking_in_limit: bool = False  # reasoning tokens count inside the token limit: add room for them
    reasoning_limit_name: str = "max_tokens"  # the token-limit parameter a reasoning model accepts
    retired: dict[str, str] = field(default_factory=dict)  # model id -> "date; the provider's replacement"
    unreachable_hint: str = "Check your network."  # the sentence after "Could not reach ..."
    # Automatic prompt caching as the provider documents it in usage.prompt_tokens_details.cached_tokens:
    # (a prompt's minimum tokens, the step cached prefixes come in); None where none is documented for this endpoint.
    prompt_cache: tuple[int, int] | None = None
    cache_models: tuple[str, ...] = ()  # the models whose prompts are cached, where the provider names them ((): all)
    cached_share: float | None = None  # cached input's price as a share of input, where models-dev lists no rate
    batch_discount: float | None = None  # the share its batch API takes off both input and output prices
    # a JSON schema in response_format: True held to (structured outputs), False ignored, None: depends on the model
    structured_output: bool | None = None


PROVIDERS: dict[str, Provider] = {
    "openai": Provider(
        base_url=None,
        key_vars=("OPENAI_API_KEY",),
        catalog_id="openai",
        default_model="gpt-5-mini",
        checked="2026-12-02, platform.openai.com/docs/models and /docs/deprecations (gpt-4o-mini's shutdown is "
        "reported for 2027-01-14); reasoning models take max_completion_tokens, only the default temperature, and "
        "reasoning_effort (docs/guides/reasoning)",
        lowest_effort="minimal",
        thinking_in_limit=True,
        reasoning_limit_name="max_completion_tokens",
        prompt_cache=(1024, 128),  # platform.openai.com/docs/guides/prompt-caching, checked 2026-12-06
        batch_discount=0.5,  # help.openai.com/en/articles/9197833 ("50% cost discount"), checked 2026-12-06
        structured_output=True,  # platform.openai.com/docs/guides/structured-outputs, checked 2026-12-06
    ),
    "anthropic": Provider(
        base_url="https://api.anthropic.com/v1/",
        key_vars=("ANTHROPIC_API_KEY",),
        catalog_id="anthropic",
        default_model="claude-haiku-4-5",
        checked="2026-12-02, docs.anthropic.com/en/docs/about-claude/model-deprecations (Claude 3.5 Haiku retired "
        "2026-02-19) and /api/openai-sdk (no seed; extended thinking is off unless asked for)",
        sends_seed=False,
        # no prompt_cache: its OpenAI-compatible layer caches no prompts (platform.claude.com/docs/en/api/openai-sdk)
        batch_discount=0.5,  # docs.anthropic.com/en/docs/build-with-claude/batch-processing, checked 2026-12-06
        structured_output=False,  # platform.claude.com/docs/en/api/openai-sdk: "response_format: Ignored"
        retired={
            "claude-3-5-haiku-latest": "2026-02-19; Anthropic names claude-haiku-4-5",
            "claude-3-5-haiku-20241022": "2026-02-19; Anthropic names claude-haiku-4-5",
            # docs.anthropic.com/en/docs/about-claude/model-deprecations: deprecated 2025-08-13, retired 2025-10-22
            "claude-3-5-sonnet-20240620": "2025-10-22",
            "claude-3-5-sonnet-20241022": "2025-10-22",
        },
    ),
    "gemini": Provider(
        base_url="https://generativelanguage.googleapis.com/v1beta/openai/",
        key_vars=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        catalog_id="google",
        default_model="gemini-flash-latest",
        checked="2026-12-02, ai.google.dev/gemini-api/docs/deprecations (gemini-2.0-flash shut down 2026-06-01, "
        "gemini-2.5-flash reported retired 2026-12-01; the -latest alias follows the current Flash) and "
        "/docs/openai (reasoning_effort; thinking tokens count inside max_tokens)",
        lowest_effort="low",
        thinking_in_limit=True,
        # no prompt_cache: Gemini caches implicitly (ai.google.dev/gemini-api/docs/caching) but its OpenAI-compatible
        # layer documents no cached-token field (/docs/openai, checked 2026-12-06), so a reply bills all input plain
        batch_discount=0.5,  # ai.google.dev/gemini-api/docs/batch-mode, checked 2026-12-06
        structured_output=True,  # ai.google.dev/api/compatibility (ResponseFormat, ResponseFormatSchema), 2026-12-06
        retired={
            "gemini-2.0-flash": "2026-06-01",
            "gemini-2.0-flash-lite": "2026-06-01",
            "gemini-2.5-flash": "2026-12-01; gemini-flash-latest follows the current Flash",
        },
    ),
    "groq": Provider(
        base_url="https://api.groq.com/openai/v1",
        key_vars=("GROQ_API_KEY",),
        catalog_id="groq",
        default_model="openai/gpt-oss-20b",
        checked="2026-12-02, console.groq.com/docs/deprecations (llama-3.1-8b-instant decommissioned 2026-08-16, "
        "replacement gpt-oss-20b/120b) and /docs/reasoning (reasoning_effort low/medium/high for gpt-oss; "
        "reasoning counts inside max_completion_tokens)",
        lowest_effort="low",
        thinking_in_limit=True,
        reasoning_limit_name="max_completion_tokens",
        # console.groq.com/docs/prompt-caching, checked 2026-12-06: automatic for the models it lists, reported in
        # usage.prompt_tokens_details.cached_tokens, "a 50% discount for cached input tokens"; it documents no
        # minimum prompt and no step, so any shared prefix counts
        prompt_cache=(1, 1),
        cache_models=(
            "openai/gpt-oss-20b",
            "openai/gpt-oss-120b",
            "openai/gpt-oss-safeguard-20b",
            "moonshotai/kimi-k2-instruct-0905",
        ),
        cached_share=0.5,
        # console.groq.com/docs/structured-outputs, checked 2026-12-06: strict (constrained decoding) for gpt-oss-20b
        # and -120b, best effort for the others
        structured_output=True,
        retired={
            "llama-3.1-8b-instant": "2026-08-16; Groq names openai/gpt-oss-20b and openai/gpt-oss-120b",
            "llama3-8b-8192": "2025-08-30",
            "gemma2-9b-it": "2025-10-08",
        },
    ),
    "openrouter": Provider(
        base_url="https://openrouter.ai/api/v1",
        key_vars=("OPENROUTER_API_KEY",),
        catalog_id="openrouter",
        default_model="meta-llama/llama-3.1-8b-instruct",
        checked="2026-12-02, openrouter.ai/models (listed in models-dev 1.0.398) and openrouter.ai/docs/api-reference "
        "(402 when the account has no credits)",
    ),
    "ollama": Provider(
        base_url="http://localhost:11434/v1",
        key_vars=(),
        catalog_id=None,
        unreachable_hint="Is `ollama serve` running?",
    ),
    # the kit's own server (llama.cpp or transformers), started on demand
    "local": Provider(
        base_url=None,
        key_vars=(),
        catalog_id=None,
        unreachable_hint="The kit's local server stopped: its log is in data/cache/logs/ (or LLMKIT_CACHE).",
    ),
}
# Week 5's open coder model, when OpenRouter is reachable (LLMKIT_CODE_MODEL chooses another, any provider).
DEFAULT_CODE_MODEL = "openrouter/qwen/qwen-2.5-coder-32b-instruct"


def split_model(model: str) -> tuple[str, str]:
    """'provider/model' -> (provider, model id); a clear error for anything else."""
    if not isinstance(model, str) or "/" not in model:
        raise UnknownModelError(
            f"Model {model!r} needs a provider prefix, e.g. 'local/smollm2' or 'openai/gpt-5-mini'. "
            f"Providers: {', '.join(PROVIDERS)}."
        )
    provider, model_id = model.split("/", 1)
    if provider not in PROVIDERS:
        close = difflib.get_close_matches(provider, PROVIDERS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"Unknown provider {provider!r}.{hint} Known: {', '.join(PROVIDERS)}.")
    if provider == "local" and model_id not in local_aliases():
        close = difflib.get_close_matches(model_id, local_aliases(), n=3, cutoff=0.3)
        raise UnknownModelError(
            f"Unknown local model {model_id!r}. Close names: {', '.join('local/' + c for c in close) or 'none'}."
        )
    return provider, model_id


def catalog_model_ids(provider: str) -> list[str]:
    """Model ids the models-dev table lists for a provider of ours (empty if it has none)."""
    cat = PROVIDERS[provider].catalog_id
    return sorted(models_dev_table().get(cat, {}).get("models", {})) if cat else []


def models_dev_entry(provider: str, model_id: str) -> dict[str, Any]:
    """The models-dev entry for a model ({} when the table has none: an unknown model is sent plain)."""
    catalog = PROVIDERS[provider].catalog_id
    return models_dev_table().get(catalog, {}).get("models", {}).get(model_id, {}) if catalog else {}


def retirement(model_id: str) -> str:
    """When a provider retired a model the kit knows of (with the provider's replacement); "" when none is known."""
    return next((p.retired[model_id] for p in PROVIDERS.values() if model_id in p.retired), "")


def default_models() -> list[str]:
    """Today's default chat model of every provider the kit calls (model ids without the provider prefix)."""
    return [p.default_model for p in PROVIDERS.values() if p.default_model]
