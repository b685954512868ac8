"""What a call costs: the models-dev prices of a provider's model, and the one formula from tokens to dollars."""

from __future__ import annotations

from .providers import models_dev_entry, split_model


def price_per_million(model: str) -> tuple[float, float] | None:
    """(input, output) dollars per 1M tokens from the models-dev table; (0, 0) for models run locally."""
    provider, model_id = split_model(model)
    if provider in ("local", "ollama"):
        return (0.0, 0.0)
    entry = models_dev_entry(provider, model_id)
    if "cost" not in entry:
        return None
    return float(entry["cost"].get("input") or 0.0), float(entry["cost"].get("output") or 0.0)


def request_cost(input_tokens: float, output_tokens: float, input_per_m: float, output_per_m: float) -> float:
    """Dollars for one request: tokens each way times the price per million tokens."""
    return (input_tokens * input_per_m + output_tokens * output_per_m) / 1_000_000


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """Dollars for one call of a 'provider/model', from the maintained price table (None when it has no price)."""
    prices = price_per_million(model)
    if prices is None:
        return None
    return request_cost(input_tokens, output_tokens, *prices)
