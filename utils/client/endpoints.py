"""Where each provider is reached, and one reused `openai.OpenAI` client per provider."""

from __future__ import annotations

import os
import threading
from typing import Any

from ..settings import base_url_override
from .keys import api_key
from .local_server import running_server
from .providers import PROVIDERS


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
        url, key, timeout = base_url("local") or running_server(model_id).base_url, "not-needed", 600
    else:
        url, key, timeout = base_url(provider), api_key(provider), 120
    with _clients_lock:
        client = _clients.get((provider, url, key))
        if client is None:
            client = _clients[(provider, url, key)] = OpenAI(base_url=url, api_key=key, max_retries=0, timeout=timeout)
        return client
