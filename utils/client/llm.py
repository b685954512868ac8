"""One chat call for every provider: the `openai` SDK with each provider's OpenAI-compatible base_url.

`chat()` sends what the model accepts (`request_rules`), retries what retrying can fix with back-off, turns every
other failure into one sentence (`error_sentences`), and restarts the kit's own server if it dies mid-lesson.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ..errors import BadInputError, RateLimitedError, ServerUnreachableError
from . import local_server as local
from . import replies, spend
from .costs import cost_usd, dollars
from .endpoints import client_for
from .error_sentences import explain_error
from .providers import PROVIDERS, split_model
from .request_rules import request_params, response_format


@dataclass
class ChatResult:
    """A reply with what it cost: tokens, time to first token, total latency and dollars (None when unpriced)."""

    text: str
    model: str
    input_tokens: int | None  # None when the server does not report usage
    output_tokens: int
    ttft_s: float
    latency_s: float
    cost_usd: float | None
    tool_calls: list[dict[str, str]] = field(default_factory=list)  # {"id", "name", "arguments" (JSON text)}
    cached_tokens: int = 0  # input tokens the provider read from its prompt cache (billed at the cached rate)
    reasoning_tokens: int = 0  # output tokens spent thinking (already counted, and billed, as output)
    reused: bool = False  # answered from the reply this request was first paid for (`replies`): nothing sent or paid

    @property
    def answer_tokens(self) -> int:
        """Output tokens of the answer itself: a reasoning model's thinking left out."""
        return self.output_tokens - self.reasoning_tokens

    @property
    def tokens_per_s(self) -> float:
        """Output tokens per second after the first token arrived."""
        if self.latency_s - self.ttft_s < 1e-6:  # not streamed: no first-token time, use the whole call
            return self.output_tokens / max(self.latency_s, 1e-9)
        return max(self.output_tokens - 1, 0) / (self.latency_s - self.ttft_s)

    def summary(self) -> str:
        """One line of numbers for a notebook."""
        if self.cost_usd is None:
            cost = "unpriced"
        elif self.cost_usd == 0 and self.model.startswith("local/"):
            cost = "free (a model on this machine)"
        else:
            cost = dollars(self.cost_usd)
        if self.reused:
            cost += " when first paid (this time answered from the kept reply, free)"
        n_in = "input not reported" if self.input_tokens is None else f"{self.input_tokens} in"
        if self.latency_s - self.ttft_s < 1e-6:  # not streamed: a rate would include reading the prompt
            timing = f"{self.latency_s:.2f}s in all (not streamed: no first-token time or generation rate)"
        else:
            timing = f"first token {self.ttft_s:.2f}s, total {self.latency_s:.2f}s, {self.tokens_per_s:.1f} tok/s"
        return f"{self.model}: {n_in} / {self.output_tokens} out tokens, {timing}, {cost}"


# ----------------------------------------------------------------------------------------------------------------
# chat()
# ----------------------------------------------------------------------------------------------------------------
ROLES = ("system", "user", "assistant", "tool")


def _as_messages(messages: str | list[dict[str, str]]) -> list[dict[str, str]]:
    if isinstance(messages, str):
        if not messages.strip():
            raise BadInputError("The prompt is empty: write a question or instruction first.")
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, list) or not messages:
        raise BadInputError("messages must be a prompt string or a non-empty list of {'role': ..., 'content': ...}.")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or "content" not in m:
            raise BadInputError(
                f"messages[{i}] must look like {{'role': 'user', 'content': '...'}} with role system/user/assistant"
                " (or tool, answering a tool call)."
            )
    return messages


def backoff_delay(attempt: int, base_s: float = 1.0, cap_s: float = 30.0) -> float:
    """Exponential back-off with jitter: about base*2^attempt seconds, capped, times a random 0.5-1.5."""
    return min(cap_s, base_s * 2**attempt) * random.uniform(0.5, 1.5)


def retry_wait(err: Exception, attempt: int, base_s: float = 1.0, cap_s: float = 30.0) -> float:
    """Seconds to wait before the next try: the server's Retry-After when it sends one (capped), else back-off."""
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    try:
        return min(cap_s, float(headers.get("retry-after")))
    except (TypeError, ValueError):
        return backoff_delay(attempt, base_s, cap_s)


def chat(
    model: str,
    messages: str | list[dict[str, str]],
    *,
    stream: bool = False,
    temperature: float = 0.0,
    max_tokens: int = 512,
    seed: int | None = 42,
    on_token: Callable[[str], None] | None = None,
    retries: int = 4,
    base_delay_s: float = 1.0,
    stop: list[str] | None = None,
    tools: list[dict[str, Any]] | None = None,
    schema: dict[str, Any] | None = None,
) -> ChatResult:
    """Send a chat to 'provider/model' and return text, tokens, latency and cost; stream=True prints as it goes.
    With `tools` (OpenAI's function schema) the model may answer with tool calls (ChatResult.tool_calls); with `schema`
    (a JSON schema) the reply is asked for as that JSON, held to it where request_rules.schema_enforced says so."""
    import openai

    provider, model_id = split_model(model)
    if max_tokens < 1:
        raise BadInputError(f"max_tokens must be at least 1, got {max_tokens}.")
    if tools and stream:
        raise BadInputError("Tools and streaming together are not supported here: pass stream=False.")
    client = client_for(provider, model_id)
    kwargs = _request(provider, model_id, _as_messages(messages), max_tokens, temperature, seed, stop, tools, schema)
    # a paid request sent before (temperature 0, not streamed) is answered from its kept reply: a re-run pays once
    key = _reuse_key(client, model, kwargs, stream, temperature)
    if key and (earlier := _kept_reply(key)) is not None:
        return earlier
    # a paid call holds its worst case against the budget before it is sent (stopping here if it could cross the
    # budget, with the calls in flight from other threads), and settles to what it was billed once it is answered
    hold = spend.reserve(model, kwargs["messages"], spend.cap_in(kwargs, max_tokens))
    if stream and on_token is None:
        on_token = lambda piece: print(piece, end="", flush=True)  # noqa: E731
    retryable = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError, openai.APIConnectionError)
    attempt = 0
    try:
        while True:
            try:
                result = _trimmed(_call(client, model, kwargs, stream, on_token), stop)
                spend.settle(hold, result)
                if key:
                    replies.keep(key, asdict(result))
                return result
            except retryable as err:
                if provider == "local" and isinstance(err, openai.APIConnectionError) and local.recover(model_id):
                    client = client_for(provider, model_id)
                    kwargs["model"] = local.running_server(model_id).served_model
                    continue
                fatal = explain_error(err, provider, model_id) if isinstance(err, openai.APIStatusError) else None
                if fatal is not None:  # e.g. 429 insufficient_quota: no retry can fix it
                    raise fatal from None
                if attempt == retries:
                    raise _gave_up(err, client, provider, model, retries) from None
                time.sleep(retry_wait(err, attempt, base_delay_s))
                attempt += 1
            except openai.APIStatusError as err:  # 400, 401, 402, 403, 404, 413, ...: one sentence, never retried
                fatal = explain_error(err, provider, model_id)
                if fatal is None:
                    raise
                raise fatal from None
    finally:
        spend.settle(hold)  # a call that failed releases its hold (after a reply it has settled already: no-op)


def _kept_reply(key: str) -> ChatResult | None:
    """The reply an earlier run paid for this request, marked reused (and counted as such), or None."""
    earlier = replies.kept(key)
    if earlier is None:
        return None
    spend.note_reused()
    return ChatResult(**{**earlier, "reused": True})


def _gave_up(err: Exception, client: Any, provider: str, model: str, retries: int) -> Exception:
    """The sentence for a call that failed every try: the server could not be reached, or is still refusing."""
    import openai

    if isinstance(err, openai.APIConnectionError):
        hint = PROVIDERS[provider].unreachable_hint
        return ServerUnreachableError(f"Could not reach {client.base_url} after {retries + 1} tries. {hint}")
    return RateLimitedError(
        f"{model} is still rate-limited or failing after {retries + 1} tries "
        f"({type(err).__name__}). Wait a minute, lower the request rate, or use another model."
    )


def _reuse_key(client: Any, model: str, kwargs: dict[str, Any], stream: bool, temperature: float) -> str:
    """The kept-reply key of a paid, repeatable request (temperature 0, not streamed); '' for any other."""
    if stream or temperature or not spend.is_paid(model):
        return ""
    return replies.request_key(str(client.base_url), kwargs)


def _trimmed(result: ChatResult, stop: list[str] | None) -> ChatResult:
    """OpenAI leaves the stop string out of the reply; transformers serve sends it: trim it, as OpenAI does."""
    for end in stop or []:
        if end and result.text.endswith(end):
            result.text = result.text[: -len(end)]
    return result


def _request(
    provider: str,
    model_id: str,
    msgs: list[dict[str, str]],
    max_tokens: int,
    temperature: float | None,
    seed: int | None,
    stop: list[str] | None,
    tools: list[dict[str, Any]] | None,
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The request's arguments: the served model's name, the messages, and what this model accepts."""
    served, backend = model_id, ""
    if provider == "local":
        server = local.running_server(model_id)
        server.check_fits(msgs, max_tokens)
        served, backend = server.served_model, server.backend
    kwargs: dict[str, Any] = dict(
        model=served, messages=msgs, **request_params(provider, model_id, max_tokens, temperature, seed)
    )
    if stop:
        kwargs["stop"] = stop
    if tools:
        kwargs.update(tools=tools, tool_choice="auto")
    if schema:
        kwargs["response_format"] = response_format(provider, backend, schema)
    return kwargs


def _call(client: Any, model: str, kwargs: dict[str, Any], stream: bool, on_token: Callable | None) -> ChatResult:
    start = time.perf_counter()
    if not stream:
        resp = client.chat.completions.create(**kwargs)
        latency = time.perf_counter() - start
        message = resp.choices[0].message
        calls = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments or ""}
            for c in message.tool_calls or []
            if getattr(c, "function", None)
        ]
        usage = resp.usage  # a server that sends none: input None as when streaming, output 0 (nothing to count)
        n_in, n_out = (usage.prompt_tokens, usage.completion_tokens) if usage else (None, 0)
        cached, thinking = _token_details(usage)
        cost = cost_usd(model, n_in or 0, n_out, cached)
        return ChatResult(message.content or "", model, n_in, n_out, latency, latency, cost, calls, cached, thinking)
    pieces: list[str] = []
    ttft = None
    n_in: int | None = None
    n_out = chunks = cached = thinking = 0
    for chunk in client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}):
        if chunk.usage:
            n_in, n_out = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
            cached, thinking = _token_details(chunk.usage)
        if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
            if ttft is None:
                ttft = time.perf_counter() - start
            piece = chunk.choices[0].delta.content
            pieces.append(piece)
            chunks += 1
            if on_token:
                on_token(piece)
    latency = time.perf_counter() - start
    if on_token:
        on_token("\n")
    n_out = n_out or chunks  # llama.cpp streams one token per chunk and sends no usage
    cost = cost_usd(model, n_in or 0, n_out, cached)
    return ChatResult("".join(pieces), model, n_in, n_out, ttft or latency, latency, cost, [], cached, thinking)


def _token_details(usage: Any) -> tuple[int, int]:
    """(cached input, reasoning output) tokens from a usage block, as OpenAI reports them; 0 where not reported."""
    prompt = getattr(usage, "prompt_tokens_details", None)
    completion = getattr(usage, "completion_tokens_details", None)
    return int(getattr(prompt, "cached_tokens", 0) or 0), int(getattr(completion, "reasoning_tokens", 0) or 0)
