"""The providers' OpenAI-compatible layers, played on loopback in front of the kit's local server (the rehearsal and
the tests use it; no real provider can be reached from CI).

One server answers at http://127.0.0.1:PORT/<provider>/v1 for every provider and keeps the rules each one documents
(utils/client/providers.py names the pages): a retired model is refused as that provider refuses it (Groq: 400
`model_decommissioned`; the others: 404), an OpenAI reasoning model rejects `max_tokens` and any temperature but 1,
a reasoning model spends tokens on thinking inside the limit (a request with too little room gets an empty reply,
finish_reason "length"), a provider with automatic prompt caching reports the prefix it shares with an earlier
prompt as cached tokens (in its documented steps), and GET /models lists what exists. Scripted failures (413,
429 insufficient_quota, 402, 403) are queued with `fail_next`. Everything else goes to the local model, whose
replies stand in for the provider's: they mean nothing about any real model.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from typing import Any

from ..client.loopback import LoopbackServer, QuietHandler
from ..client.providers import PROVIDERS, catalog_model_ids, models_dev_entry
from ..client.request_rules import response_format
from ..errors import BadInputError

# Thinking tokens the zoo spends at each reasoning effort: a worst case, so that the kit's room for thinking
# (request_rules.THINKING_ALLOWANCE) is what keeps a short reply from coming back empty. No effort sent: the default,
# which thinks the most.
THINKING = {"none": 0, "minimal": 1000, "low": 1000, "medium": 2000, "high": 4000, None: 8000}

# Error bodies as the providers send them (shortened).
SCRIPTED = {
    "413": (
        413,
        {
            "error": {
                "message": "Request too large for model `openai/gpt-oss-20b` in organization `org_x` "
                "service tier `on_demand` on tokens per minute (TPM): Limit 8000, Requested "
                "16840, please reduce your message size and try again.",
                "type": "tokens",
                "code": "rate_limit_exceeded",
            }
        },
    ),
    "insufficient_quota": (
        429,
        {
            "error": {
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            }
        },
    ),
    "402": (
        402,
        {
            "error": {
                "message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
                "code": 402,
            }
        },
    ),
    "403": (
        403,
        {
            "error": {
                "message": "Project does not have access to model gpt-5-mini",
                "type": "invalid_request_error",
                "code": "model_not_found",
            }
        },
    ),
    "429": (
        429,
        {
            "error": {
                "message": "Rate limit reached for requests per minute.",
                "type": "requests",
                "code": "rate_limit_exceeded",
            }
        },
    ),
}


def listed_models(provider: str) -> list[str]:
    """What the provider's GET /models returns in the zoo: its models-dev entries that are not retired."""
    return [m for m in catalog_model_ids(provider) if m not in PROVIDERS[provider].retired]


def refusal(provider: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """How this provider refuses the request, or None when it accepts it."""
    model = body.get("model", "")
    spec = PROVIDERS[provider]
    if model in spec.retired:
        if provider == "groq":
            return 400, {
                "error": {
                    "message": f"The model `{model}` has been decommissioned and is no longer "
                    "supported. Please refer to https://console.groq.com/docs/deprecations "
                    "for a recommendation on which model to use instead.",
                    "type": "invalid_request_error",
                    "code": "model_decommissioned",
                }
            }
        return 404, {
            "error": {
                "message": f"The model `{model}` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "code": "model_not_found",
            }
        }
    if model not in listed_models(provider):
        return 404, {"error": {"message": f"The model `{model}` does not exist.", "code": "model_not_found"}}
    facts = models_dev_entry(provider, model)
    if provider == "openai" and facts.get("reasoning"):
        if "max_tokens" in body:
            return 400, {
                "error": {
                    "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
                    "Use 'max_completion_tokens' instead.",
                    "type": "invalid_request_error",
                    "param": "max_tokens",
                    "code": "unsupported_parameter",
                }
            }
        if body.get("temperature", 1) != 1:
            return 400, {
                "error": {
                    "message": f"Unsupported value: 'temperature' does not support "
                    f"{body['temperature']} with this model. Only the default (1) value is "
                    "supported.",
                    "type": "invalid_request_error",
                    "param": "temperature",
                    "code": "unsupported_value",
                }
            }
    if provider == "anthropic" and "seed" in body:
        return 400, {"error": {"message": "seed: Extra inputs are not permitted", "type": "invalid_request_error"}}
    return None


class ProviderZoo:
    """`with ProviderZoo(local_base_url) as zoo:` serves every provider at zoo.url(provider); zoo.requests keeps
    (provider, request body) of every chat request; zoo.fail_next(provider, "413") queues a scripted failure."""

    def __init__(self, target: str, local_model: str = "smollm2"):
        self.target, self.local_model = target.rstrip("/"), local_model
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._failures: dict[str, list[str]] = {}
        self._prompts: dict[str, list[str]] = {}  # recent prompts per provider, for its prompt cache
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None

    def url(self, provider: str) -> str:
        """The base URL to give a client for this provider."""
        if self._server is None:
            raise BadInputError("Start the zoo first: use it as `with ProviderZoo(...) as zoo:`.")
        return self._server.url(f"/{provider}/v1")

    def environment(self, providers: tuple[str, ...] | None = None) -> dict[str, str]:
        """LLMKIT_<PROVIDER>_BASE_URL for each provider, pointing at the zoo."""
        names = providers or tuple(p for p, spec in PROVIDERS.items() if spec.catalog_id)
        return {f"LLMKIT_{p.upper()}_BASE_URL": self.url(p) for p in names}

    def fail_next(self, provider: str, failure: str, times: int = 1) -> None:
        """Answer the provider's next chat requests with a scripted failure (a key of SCRIPTED)."""
        if failure not in SCRIPTED:
            raise BadInputError(f"failure must be one of {', '.join(SCRIPTED)}, got {failure!r}.")
        with self._lock:
            self._failures.setdefault(provider, []).extend([failure] * times)

    def _next_failure(self, provider: str) -> str | None:
        with self._lock:
            queue = self._failures.get(provider) or []
            return queue.pop(0) if queue else None

    def cached_tokens(self, provider: str, model: str, messages: list[dict[str, Any]], prompt_tokens: int) -> int:
        """The tokens a provider's prompt cache would serve: the longest prefix shared with a recent prompt, as a
        share of this prompt's tokens, in the provider's steps and only above its minimum (0 without a cache, or for
        a model the provider does not cache)."""
        rule, models = PROVIDERS[provider].prompt_cache, PROVIDERS[provider].cache_models
        if rule is None or (models and model not in models):
            return 0
        text = json.dumps(messages)
        with self._lock:
            recent = self._prompts.setdefault(provider, [])
            shared = max((len(os.path.commonprefix([text, old])) for old in recent), default=0)
            recent[:] = [*recent[-63:], text]
        minimum, step = rule
        cached = int(prompt_tokens * shared / max(len(text), 1)) // step * step
        return cached if prompt_tokens >= minimum and cached >= minimum else 0

    def __enter__(self) -> ProviderZoo:
        handler = type("Handler", (_ZooHandler,), {"zoo": self})
        self._server = LoopbackServer(handler).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.__exit__()
            self._server = None


def _empty_reply(model: str, limit: int) -> dict[str, Any]:
    return {
        "id": "zoo",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "length"}],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": limit,
            "total_tokens": limit + 10,
            "completion_tokens_details": {"reasoning_tokens": limit},
        },
    }


class _ZooHandler(QuietHandler):
    """Answers as the provider in the path would: its model list, its refusals, its thinking; the rest by SmolLM2."""

    zoo: ProviderZoo  # set per zoo in ProviderZoo.__enter__

    def _provider(self) -> tuple[str, str]:
        parts = self.path.split("/", 3)  # "", provider, "v1", rest
        return (parts[1], parts[3] if len(parts) > 3 else "") if len(parts) > 2 else ("", "")

    def do_GET(self):
        provider, rest = self._provider()
        if provider not in PROVIDERS or rest != "models":
            return self.send(404, {"error": {"message": f"no route {self.path}"}})
        prefix = "models/" if provider == "gemini" else ""
        ids = [{"id": prefix + m, "object": "model", "owned_by": provider} for m in listed_models(provider)]
        self.send(200, {"object": "list", "data": ids})

    def do_POST(self):
        provider, rest = self._provider()
        body = json.loads(self.read_body() or b"{}")
        if provider not in PROVIDERS or rest != "chat/completions":
            return self.send(404, {"error": {"message": f"no route {self.path}"}})
        self.zoo.requests.append((provider, body))
        failure = self.zoo._next_failure(provider)
        refused = SCRIPTED[failure] if failure else refusal(provider, body)
        if refused:
            return self.send(*refused)
        self._answer(provider, body)

    def _answer(self, provider: str, body: dict[str, Any]) -> None:
        limit = body.get("max_completion_tokens") or body.get("max_tokens") or 4096
        thinking = 0
        if models_dev_entry(provider, body["model"]).get("reasoning") and PROVIDERS[provider].thinking_in_limit:
            thinking = min(THINKING.get(body.get("reasoning_effort"), 8000), limit)
        if thinking >= limit:  # the whole budget went on thinking: an empty answer, as Gemini gives
            empty = _empty_reply(body["model"], limit)
            if body.get("stream"):
                chunk = {
                    **empty,
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}],
                }
                return self.send(200, f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode(), "text/event-stream")
            return self.send(200, empty)
        forward = {k: v for k, v in body.items() if k not in ("max_completion_tokens", "reasoning_effort")}
        forward.update(model=self.zoo.local_model, max_tokens=limit - thinking)
        schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
        forward.pop("response_format", None)  # a provider that ignores a schema (Anthropic's layer) answers freely
        if schema and PROVIDERS[provider].structured_output is not False:  # one that holds to it: llama.cpp's form
            forward["response_format"] = response_format("local", "llama.cpp", schema)
        request = urllib.request.Request(
            self.zoo.target + "/chat/completions", json.dumps(forward).encode(), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as resp:
                if body.get("stream"):
                    self.send_response(resp.status)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for line in resp:
                        self.wfile.write(line)
                        self.wfile.flush()
                    return
                reply = json.load(resp)
        except urllib.error.HTTPError as err:
            return self.send(err.code, err.read(), err.headers.get("Content-Type", "application/json"))
        reply["model"] = body["model"]
        if reply.get("usage") and PROVIDERS[provider].prompt_cache:
            cached = self.zoo.cached_tokens(provider, body["model"], body["messages"], reply["usage"]["prompt_tokens"])
            reply["usage"]["prompt_tokens_details"] = {"cached_tokens": cached}
        if reply.get("usage") and thinking:
            reply["usage"]["completion_tokens"] += thinking
            reply["usage"]["completion_tokens_details"] = {"reasoning_tokens": thinking}
        self.send(200, reply)
