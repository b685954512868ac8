"""What a request to a given model carries: the token-limit name, room for thinking, temperature and seed."""

from __future__ import annotations

from typing import Any

from .providers import PROVIDERS, models_dev_entry

# Room for a reasoning model's thinking, added to the limit where the provider counts it inside: a price reply of
# 10 tokens then gets an answer instead of a budget spent on thinking.
THINKING_ALLOWANCE = 1024


def request_params(
    provider: str, model_id: str, max_tokens: int, temperature: float | None, seed: int | None
) -> dict[str, Any]:
    """The request's parameters for this model, by the models-dev flags (`reasoning`, `temperature`) and the
    provider's rules (Provider): the token-limit name, room for thinking, the lowest reasoning effort, temperature
    only where the model takes one, seed only where the endpoint accepts it."""
    spec, facts = PROVIDERS[provider], models_dev_entry(provider, model_id)
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


def response_format(provider: str, backend: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema for the reply, in the form the endpoint takes: OpenAI's `json_schema` (strict), or llama.cpp's
    own `json_object` with the schema beside it (it compiles the schema to a grammar)."""
    if provider == "local" and backend == "llama.cpp":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "reply", "schema": strict_schema(schema), "strict": True}}


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's strict mode asks every object to list all its properties as required and allow no others."""
    out = dict(schema)
    if out.get("type") == "object":
        out["required"] = list(out.get("properties", {}))
        out["additionalProperties"] = False
    return out


def schema_enforced(provider: str, backend: str) -> bool | None:
    """Whether the endpoint holds a reply to the schema: True, False (it ignores the schema), or None (it depends
    on the model behind it)."""
    if provider == "local":
        return backend == "llama.cpp"  # transformers serve ignores response_format (it logs so)
    return PROVIDERS[provider].structured_output
