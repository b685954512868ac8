"""Errors a student meets, each with one clear sentence and what to do next."""

from __future__ import annotations


class LLMKitError(Exception):
    """Base class: the message says what went wrong and what to do."""


class MissingKeyError(LLMKitError):
    """An API key is not set."""


class UnknownModelError(LLMKitError):
    """A model or provider name that the kit (or the provider) does not know."""


class ServerUnreachableError(LLMKitError):
    """The model server did not answer."""


class LocalServerCrashedError(ServerUnreachableError):
    """The kit's own model server process died (a crash, not the network)."""


class RateLimitedError(LLMKitError):
    """Still rate-limited or failing after every retry."""


class ContextTooLongError(LLMKitError):
    """The prompt does not fit the model's context window."""


class RequestTooLargeError(ContextTooLongError):
    """The provider refused a request of this size (HTTP 413), often a tier's tokens-per-minute cap."""


class QuotaError(LLMKitError):
    """The account has no credit or quota left (HTTP 402, or 429 insufficient_quota): retrying cannot help."""


class ForbiddenError(LLMKitError):
    """The key is valid but may not use this model (HTTP 403)."""


class BudgetExceededError(LLMKitError):
    """A paid call could take the course's spend past LLMKIT_BUDGET_USD: stopped before it was sent."""


class UnpricedModelError(BudgetExceededError):
    """A paid model with no listed price and no LLMKIT_UNLISTED_PRICE: the budget cannot count it, so none is sent."""


class BadInputError(LLMKitError, ValueError):
    """An argument a user typed is out of range or of the wrong kind."""


# Errors that fail every call the same way until a person acts (a dead server, a rejected key, no quota, a model that
# does not exist): an evaluation that meets them again and again stops instead of scoring misses.
FATAL_ERRORS: tuple[type[Exception], ...] = (
    ServerUnreachableError,
    MissingKeyError,
    RateLimitedError,
    UnknownModelError,
    QuotaError,
    ForbiddenError,
    BudgetExceededError,
)
