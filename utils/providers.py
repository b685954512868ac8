"""The providers, as data: where each one is, its key, today's default model, and the rules its OpenAI-compatible
endpoint keeps. Also the one place that decides what a request to a given model carries, what a provider's error
means in one sentence, one client per provider, and the preflight that checks the chosen models exist.

Defaults and rules were checked on 2026-12-02 against the pages named beside them (and the models-dev table that
ships with the kit); they change: `LLMKIT_CHAT_MODELS` and `LLMKIT_CODE_MODEL` choose others without editing code.
"""

from __future__ import annotations

import difflib
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .assets import models_dev_table
from .errors import (
    BadInputError,
    ContextTooLongError,
    ForbiddenError,
    LLMKitError,
    MissingKeyError,
    QuotaError,
    RequestTooLargeError,
    UnknownModelError,
)
from .local_server import local_aliases, local_server
from .settings import base_url_override, setting, setting_list


@dataclass(frozen=True)
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


PROVIDERS: dict[str, Provider] = {
    "openai": Provider(
        None,
        ("OPENAI_API_KEY",),
        "openai",
        "gpt-5-mini",
        "2026-12-02, platform.openai.com/docs/models and /docs/deprecations (gpt-4o-mini's shutdown is reported "
        "for 2027-01-14); reasoning models take max_completion_tokens, only the default temperature, and "
        "reasoning_effort (docs/guides/reasoning)",
        lowest_effort="minimal",
        thinking_in_limit=True,
        reasoning_limit_name="max_completion_tokens",
    ),
    "anthropic": Provider(
        "https://api.anthropic.com/v1/",
        ("ANTHROPIC_API_KEY",),
        "anthropic",
        "claude-haiku-4-5",
        "2026-12-02, docs.anthropic.com/en/docs/about-claude/model-deprecations (Claude 3.5 Haiku retired "
        "2026-02-19) and /api/openai-sdk (no seed; extended thinking is off unless asked for)",
        sends_seed=False,
        retired={
            "claude-3-5-haiku-latest": "2026-02-19; Anthropic names claude-haiku-4-5",
            "claude-3-5-haiku-20241022": "2026-02-19; Anthropic names claude-haiku-4-5",
        },
    ),
    "gemini": Provider(
        "https://generativelanguage.googleapis.com/v1beta/openai/",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        "google",
        "gemini-flash-latest",
        "2026-12-02, ai.google.dev/gemini-api/docs/deprecations (gemini-2.0-flash shut down 2026-06-01, "
        "gemini-2.5-flash reported retired 2026-12-01; the -latest alias follows the current Flash) and "
        "/docs/openai (reasoning_effort; thinking tokens count inside max_tokens)",
        lowest_effort="low",
        thinking_in_limit=True,
        retired={
            "gemini-2.0-flash": "2026-06-01",
            "gemini-2.0-flash-lite": "2026-06-01",
            "gemini-2.5-flash": "2026-12-01; gemini-flash-latest follows the current Flash",
        },
    ),
    "groq": Provider(
        "https://api.groq.com/openai/v1",
        ("GROQ_API_KEY",),
        "groq",
        "openai/gpt-oss-20b",
        "2026-12-02, console.groq.com/docs/deprecations (llama-3.1-8b-instant decommissioned 2026-08-16, "
        "replacement gpt-oss-20b/120b) and /docs/reasoning (reasoning_effort low/medium/high for gpt-oss; "
        "reasoning counts inside max_completion_tokens)",
        lowest_effort="low",
        thinking_in_limit=True,
        reasoning_limit_name="max_completion_tokens",
        retired={
            "llama-3.1-8b-instant": "2026-08-16; Groq names openai/gpt-oss-20b and openai/gpt-oss-120b",
            "llama3-8b-8192": "2025-08-30",
            "gemma2-9b-it": "2025-10-08",
        },
    ),
    "openrouter": Provider(
        "https://openrouter.ai/api/v1",
        ("OPENROUTER_API_KEY",),
        "openrouter",
        "meta-llama/llama-3.1-8b-instruct",
        "2026-12-02, openrouter.ai/models (listed in models-dev 1.0.398) and openrouter.ai/docs/api-reference "
        "(402 when the account has no credits)",
    ),
    "ollama": Provider("http://localhost:11434/v1", (), None, unreachable_hint="Is `ollama serve` running?"),
    # the kit's own server (llama.cpp or transformers), started on demand
    "local": Provider(
        None,
        (),
        None,
        unreachable_hint="The kit's local server stopped: its log is in data/cache/logs/ (or LLMKIT_CACHE).",
    ),
}
# Week 5's open coder model, when OpenRouter is reachable (LLMKIT_CODE_MODEL chooses another, any provider).
DEFAULT_CODE_MODEL = "openrouter/qwen/qwen-2.5-coder-32b-instruct"
# Room for a reasoning model's thinking, added to the limit where the provider counts it inside: a price reply of
# 10 tokens then gets an answer instead of a budget spent on thinking.
THINKING_ALLOWANCE = 1024


# ----------------------------------------------------------------------------------------------------------------
# Names, keys, endpoints, clients
# ----------------------------------------------------------------------------------------------------------------
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


def key_variables() -> list[str]:
    """Every variable that holds a provider's key (and HF_TOKEN for gated Hugging Face models)."""
    return [var for p in PROVIDERS.values() for var in p.key_vars] + ["HF_TOKEN"]


def api_key(provider: str) -> str:
    """The provider's key from the environment; MissingKeyError names the variable (the value is never shown)."""
    spec = PROVIDERS[provider]
    if not spec.key_vars:
        return "not-needed"
    for var in spec.key_vars:
        if os.environ.get(var):
            return os.environ[var]
    raise MissingKeyError(
        f"No key for {provider}: set {' or '.join(spec.key_vars)} in your environment, in .env, or as a Colab secret."
    )


def base_url(provider: str) -> str | None:
    """A provider's endpoint: LLMKIT_<PROVIDER>_BASE_URL (for proxies and gateways; OLLAMA_BASE_URL for Ollama) first,
    read at call time, then the provider's own."""
    override = base_url_override(provider)
    if provider == "ollama":
        override = override or os.environ.get("OLLAMA_BASE_URL")
    return override or PROVIDERS[provider].base_url


_clients: dict[tuple[str, str | None, str], Any] = {}
_clients_lock = threading.Lock()


def client_for(provider: str, model_id: str = "") -> Any:
    """The `openai.OpenAI` client for a provider, made once and reused (its connection pool keeps TLS connections
    open, so latency figures are not a new handshake each); retries are the kit's own, so the SDK's are off."""
    from openai import OpenAI

    if provider == "local":
        url, key, timeout = base_url("local") or local_server(model_id).base_url, "not-needed", 600
    else:
        url, key, timeout = base_url(provider), api_key(provider), 120
    with _clients_lock:
        client = _clients.get((provider, url, key))
        if client is None:
            client = _clients[(provider, url, key)] = OpenAI(base_url=url, api_key=key, max_retries=0, timeout=timeout)
        return client


_SECRET = re.compile(r"(sk-[A-Za-z0-9_\-*]{4,}|hf_[A-Za-z0-9]{4,}|AIza[0-9A-Za-z_\-]{10,}|gsk_[A-Za-z0-9]{4,})")


def redact(text: str) -> str:
    """Hide anything that looks like a key in a message before it is shown."""
    return _SECRET.sub("[redacted]", str(text))


# ----------------------------------------------------------------------------------------------------------------
# What a request to a model carries
# ----------------------------------------------------------------------------------------------------------------
def catalog_model_ids(provider: str) -> list[str]:
    """Model ids the models-dev table lists for a provider of ours (empty if it has none)."""
    cat = PROVIDERS[provider].catalog_id
    return sorted(models_dev_table().get(cat, {}).get("models", {})) if cat else []


def model_facts(provider: str, model_id: str) -> dict[str, Any]:
    """The models-dev entry for a model ({} when the table has none: an unknown model is sent plain)."""
    catalog = PROVIDERS[provider].catalog_id
    return models_dev_table().get(catalog, {}).get("models", {}).get(model_id, {}) if catalog else {}


def request_params(
    provider: str, model_id: str, max_tokens: int, temperature: float | None, seed: int | None
) -> dict[str, Any]:
    """The request's parameters for this model, by the models-dev flags (`reasoning`, `temperature`) and the
    provider's rules (Provider): the token-limit name, room for thinking, the lowest reasoning effort, temperature
    only where the model takes one, seed only where the endpoint accepts it."""
    spec, facts = PROVIDERS[provider], model_facts(provider, model_id)
    reasoning = bool(facts.get("reasoning"))
    params: dict[str, Any] = {}
    if reasoning:
        if spec.lowest_effort:
            params["reasoning_effort"] = spec.lowest_effort
        limit = max_tokens + (THINKING_ALLOWANCE if spec.thinking_in_limit else 0)
        params[spec.reasoning_limit_name] = limit
    else:
        params["max_tokens"] = max_tokens
    if temperature is not None and facts.get("temperature", True):
        params["temperature"] = temperature
    if seed is not None and spec.sends_seed:
        params["seed"] = seed
    return params


# ----------------------------------------------------------------------------------------------------------------
# What a provider's error means
# ----------------------------------------------------------------------------------------------------------------
def _error_text(err: Any) -> tuple[str, str]:
    """(code or type, message) from an openai.APIStatusError's body, whatever shape the provider gave it."""
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            code = str(inner.get("code") or inner.get("type") or "")
            return code, redact(inner.get("message") or err)
    return "", redact(getattr(err, "message", None) or err)


def close_models(provider: str, model_id: str, listed: list[str] | None = None) -> list[str]:
    """Model ids of this provider close to model_id: from its own list when we have it, else models-dev's."""
    retired = PROVIDERS[provider].retired
    pool = listed if listed is not None else [m for m in catalog_model_ids(provider) if m not in retired]
    return difflib.get_close_matches(model_id, pool, n=4, cutoff=0.4)


def explain_error(err: Any, provider: str, model_id: str) -> LLMKitError | None:
    """One sentence for a provider's HTTP error that retrying cannot fix (None for one the caller retries)."""
    import openai

    status = getattr(err, "status_code", None)
    code, message = _error_text(err)
    model = f"{provider}/{model_id}"
    fix = "Choose another with LLMKIT_CHAT_MODELS (README: Choosing models)."
    if status == 429 and code != "insufficient_quota":
        return None  # rate-limited: the caller retries
    if code == "insufficient_quota" or status == 402:
        return QuotaError(
            f"{provider} says the account has no credit or quota left ({status}: {message[:160]}). "
            "Add credit or use another provider's key; retrying will not help."
        )
    gone = re.search(r"decommission|no longer (supported|available)|retired", message, re.I)
    if code == "model_decommissioned" or gone:
        close = ", ".join(close_models(provider, model_id)) or "none found"
        known = PROVIDERS[provider].retired.get(model_id)
        note = f" Retired {known}." if known else ""
        return UnknownModelError(
            f"{model} has been retired by {provider} ({message[:160]}).{note} Close models that exist: {close}. {fix}"
        )
    if isinstance(err, openai.NotFoundError) or status == 404:
        close = ", ".join(close_models(provider, model_id)) or "none found"
        return UnknownModelError(
            f"{provider} does not know the model {model_id!r} ({message[:120]}). Close models: {close}. {fix}"
        )
    if isinstance(err, openai.AuthenticationError) or status == 401:
        return MissingKeyError(
            f"{provider} rejected the key in {' or '.join(PROVIDERS[provider].key_vars)}: check it is current."
        )
    if isinstance(err, openai.PermissionDeniedError) or status == 403:
        return ForbiddenError(
            f"{provider} refused {model} to this key (403: {message[:160]}): the key or account "
            "may not have access to this model, or not from this region."
        )
    if status == 413:
        limit = re.search(r"[Ll]imit:?\s*(\d[\d,]*\d|\d)", message)
        stated = f" The stated limit is {limit.group(1)} tokens." if limit else ""
        return RequestTooLargeError(
            f"{model} refused a request this large (413: {message[:160]}).{stated} "
            "Send fewer tokens (fewer examples, a shorter text) or use another "
            "provider or tier."
        )
    if isinstance(err, openai.BadRequestError) or status == 400:
        if re.search(r"context|too long|maximum.*tokens|exceed", message, re.I):
            return ContextTooLongError(
                f"The prompt does not fit {model}'s context window: shorten it, send "
                f"fewer examples, or choose a larger window. ({message[:200]})"
            )
        return LLMKitError(f"{model} refused the request: {message[:300]}")
    return None


def has_key(provider: str) -> bool:
    """Whether one of the provider's key variables is set (the value is never read here)."""
    return any(os.environ.get(v) for v in PROVIDERS[provider].key_vars)


def retirement(model_id: str) -> str:
    """When a provider retired a model the kit knows of (with the provider's replacement); "" when none is known."""
    return next((p.retired[model_id] for p in PROVIDERS.values() if model_id in p.retired), "")


def default_models() -> list[str]:
    """Today's default chat model of every provider the kit calls (model ids without the provider prefix)."""
    return [p.default_model for p in PROVIDERS.values() if p.default_model]


# ----------------------------------------------------------------------------------------------------------------
# Choosing models, and the preflight
# ----------------------------------------------------------------------------------------------------------------
def chosen_chat_models() -> list[str]:
    """The full profile's chat models: LLMKIT_CHAT_MODELS (comma-separated provider/model), else the default of
    every provider whose key is set, in the order of PROVIDERS."""
    chosen = setting_list("LLMKIT_CHAT_MODELS")
    for model in chosen:
        split_model(model)  # a typo is one sentence now, not a failure in the middle of a notebook
    if chosen:
        return chosen
    return [f"{name}/{p.default_model}" for name, p in PROVIDERS.items() if p.default_model and has_key(name)]


def chosen_code_models(chat_models: list[str]) -> list[str]:
    """Week 5's models: the chat models, plus LLMKIT_CODE_MODEL or the open coder model when OpenRouter has a key."""
    extra = setting("LLMKIT_CODE_MODEL")
    if extra:
        split_model(extra)
    elif has_key("openrouter"):
        extra = DEFAULT_CODE_MODEL
    return [*chat_models, *([extra] if extra and extra not in chat_models else [])]


def callable_models(rows: Iterable[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Kit names ('provider/model') for the (models-dev provider, model id) pairs a key that is set can call, and a
    sentence for each pair that cannot be called here."""
    by_catalog = {p.catalog_id: name for name, p in PROVIDERS.items() if p.catalog_id}
    models, notes = [], []
    for catalog_provider, model_id in rows:
        name = by_catalog.get(catalog_provider)
        if name is None:
            notes.append(
                f"{catalog_provider}/{model_id}: the kit has no client for {catalog_provider}'s own API; "
                "OpenRouter may serve it (LLMKIT_CODE_MODEL=openrouter/<its OpenRouter id>)."
            )
        elif not has_key(name):
            notes.append(f"{name}/{model_id}: needs {' or '.join(PROVIDERS[name].key_vars)}.")
        else:
            models.append(f"{name}/{model_id}")
    return models, notes


@cache
def _listed(provider: str, url: str | None) -> tuple[str, ...] | None:
    """The model ids a provider lists today (None when the list could not be had)."""
    try:
        return tuple(sorted(m.id.removeprefix("models/") for m in client_for(provider).models.list()))
    except Exception:  # no network, a proxy without /models: the preflight says so and does not block
        return None


def preflight(models: list[str], require_one: bool = True) -> tuple[list[str], list[str]]:
    """Ask each provider with a chosen model for its model list, once. Returns (the models that exist or could not be
    checked, one sentence per model that is missing, with the closest that exist); with require_one, an error when
    none is left."""
    kept, notes = [], []
    for model in models:
        provider, model_id = split_model(model)
        if provider in ("local", "ollama"):
            kept.append(model)
            continue
        listed = _listed(provider, base_url(provider))
        if listed is None:
            notes.append(f"{provider}: could not read its model list; {model} is used unchecked.")
            kept.append(model)
        elif model_id in listed:
            kept.append(model)
        else:
            close = ", ".join(close_models(provider, model_id, list(listed))) or "none close"
            when = PROVIDERS[provider].retired.get(model_id)
            gone = f" (retired {when})" if when else ""
            notes.append(
                f"{provider} does not list {model_id}{gone} today; close models it lists: {close}. "
                "Set LLMKIT_CHAT_MODELS to choose one."
            )
    if require_one and not kept and models:
        raise BadInputError(" ".join(notes) + " No chosen model is available: nothing to run the notebook with.")
    return kept, notes
