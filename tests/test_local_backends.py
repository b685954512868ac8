"""The two servers behind local/smollm2: llama.cpp where it is built, transformers serve where it is not (Colab)."""

import importlib.util

import pytest

from utils import llm
from utils.errors import BadInputError

MODEL = "local/smollm2"


@pytest.fixture
def transformers_backend(monkeypatch):
    """local/smollm2 served by `transformers serve` in this test, with the llama.cpp server put back afterwards."""
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "transformers")
    monkeypatch.setattr(llm, "_servers", {})
    yield
    for server in llm._servers.values():
        server.stop()


def test_backend_is_llama_cpp_where_built_and_named_by_the_setting(monkeypatch):
    monkeypatch.delenv("LLMKIT_LOCAL_BACKEND", raising=False)
    built = importlib.util.find_spec("llama_cpp") is not None
    assert llm.local_backend() == ("llama.cpp" if built else "transformers")
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "Transformers")
    assert llm.local_backend() == "transformers"
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "vllm")
    with pytest.raises(BadInputError, match="LLMKIT_LOCAL_BACKEND=.vllm.*llama.cpp or transformers"):
        llm.local_backend()


def test_without_llama_cpp_the_kit_uses_transformers(monkeypatch):
    monkeypatch.delenv("LLMKIT_LOCAL_BACKEND", raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real_find_spec(name)
    )
    assert llm.local_backend() == "transformers"
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "llama.cpp")
    with pytest.raises(BadInputError, match="pip install 'llama-cpp-python"):
        llm.local_backend()


def test_transformers_serve_answers_the_same_calls(transformers_backend):
    r = llm.chat(MODEL, "Name a colour. One word.", max_tokens=8)
    assert llm._servers["smollm2"].backend == "transformers"
    assert r.text.strip() and r.input_tokens > 10 and 0 < r.output_tokens <= 8 and r.cost_usd == 0.0
    pieces = []
    s = llm.chat(MODEL, "Count from 1 to 5.", stream=True, max_tokens=20, on_token=pieces.append)
    assert "".join(pieces).strip() == s.text.strip() and len(pieces) > 2 and 0 < s.ttft_s <= s.latency_s


def test_transformers_serve_stops_at_the_stop_string(transformers_backend):
    r = llm.chat(MODEL, "Count from 1 to 30.", max_tokens=60, stop=["5"])  # the server sends "5"; the kit trims it
    assert r.text.strip() and "5" not in r.text and r.output_tokens < 40


def test_transformers_serve_refuses_a_prompt_longer_than_the_window(transformers_backend):
    from utils.errors import ContextTooLongError

    with pytest.raises(ContextTooLongError, match="context window"):
        llm.chat(MODEL, "word " * (llm.LOCAL_CONTEXT + 500), max_tokens=4)
