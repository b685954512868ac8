"""The two servers behind local/smollm2: llama.cpp where it is built, transformers serve where it is not (Colab)."""

import importlib.util
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from utils.client import llm
from utils.client import local_server as ls
from utils.errors import BadInputError, LocalServerCrashedError

MODEL = "local/smollm2"


@pytest.fixture
def transformers_backend(monkeypatch):
    """local/smollm2 served by `transformers serve` in this test, with the llama.cpp server put back afterwards."""
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "transformers")
    monkeypatch.setattr(ls, "_servers", {})
    yield
    for server in ls._servers.values():
        server.stop()


@pytest.mark.unit
def test_backend_is_llama_cpp_where_built_and_named_by_the_setting(monkeypatch):
    monkeypatch.delenv("LLMKIT_LOCAL_BACKEND", raising=False)
    built = importlib.util.find_spec("llama_cpp") is not None
    assert ls.local_backend() == ("llama.cpp" if built else "transformers")
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "Transformers")
    assert ls.local_backend() == "transformers"
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "vllm")
    with pytest.raises(BadInputError, match="LLMKIT_LOCAL_BACKEND=.vllm.*llama.cpp or transformers"):
        ls.local_backend()


@pytest.mark.unit
def test_without_llama_cpp_the_kit_uses_transformers(monkeypatch):
    monkeypatch.delenv("LLMKIT_LOCAL_BACKEND", raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real_find_spec(name)
    )
    assert ls.local_backend() == "transformers"
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "llama.cpp")
    with pytest.raises(BadInputError, match="pip install 'llama-cpp-python"):
        ls.local_backend()


@pytest.mark.server
def test_transformers_serve_answers_the_same_calls(transformers_backend):
    r = llm.chat(MODEL, "Name a colour. One word.", max_tokens=8)
    assert ls._servers["smollm2"].backend == "transformers"
    assert r.text.strip() and r.input_tokens > 10 and 0 < r.output_tokens <= 8 and r.cost_usd == 0.0
    pieces = []
    s = llm.chat(MODEL, "Count from 1 to 5.", stream=True, max_tokens=20, on_token=pieces.append)
    assert "".join(pieces).strip() == s.text.strip() and len(pieces) > 2 and 0 < s.ttft_s <= s.latency_s


@pytest.mark.server
def test_transformers_serve_stops_at_the_stop_string(transformers_backend):
    r = llm.chat(MODEL, "Count from 1 to 30.", max_tokens=60, stop=["5"])  # the server sends "5"; the kit trims it
    assert r.text.strip() and "5" not in r.text and r.output_tokens < 40


@pytest.mark.server
def test_transformers_serve_refuses_a_prompt_longer_than_the_window(transformers_backend):
    from utils.errors import ContextTooLongError

    with pytest.raises(ContextTooLongError, match="context window"):
        llm.chat(MODEL, "word " * (ls.LOCAL_CONTEXT + 500), max_tokens=4)


# ---------------------------------------------------------------------------------------------------------------
# A llama.cpp build that crashes (as the AMX kernels did on some Xeons): caught, explained, and survived.
# ---------------------------------------------------------------------------------------------------------------
CRASHER = Path(__file__).parent / "fixtures" / "crashing_server.py"


@pytest.fixture
def crashing_llama(monkeypatch):
    """local/smollm2's llama.cpp server replaced by a stand-in that dies with SIGSEGV after `answers` chat requests;
    a fresh set of servers and broken backends for the test, the real ones put back afterwards."""
    answers = {"n": 0}
    real_command = ls.LocalServer.command

    def command(self):
        if self.backend == "llama.cpp":
            return [sys.executable, str(CRASHER), "--port", str(self.port), "--answers", str(answers["n"])]
        return real_command(self)

    monkeypatch.setattr(ls.LocalServer, "command", command)
    monkeypatch.setattr(ls, "_servers", {})
    monkeypatch.setattr(ls, "_broken", {})
    monkeypatch.setattr(importlib.util, "find_spec", _with_llama_cpp(importlib.util.find_spec))
    yield answers
    for server in ls._servers.values():
        server.stop()


def _with_llama_cpp(real_find_spec):
    """find_spec that reports llama_cpp as installed (the stand-in replaces it), so the test holds on any install."""
    return lambda name, *a: real_find_spec("json") if name == "llama_cpp" else real_find_spec(name, *a)


@pytest.mark.server
def test_a_build_that_crashes_on_its_first_prompt_is_caught_by_the_self_check(crashing_llama, monkeypatch):
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "llama.cpp")
    start = time.monotonic()
    with pytest.raises(LocalServerCrashedError) as err:
        llm.chat(MODEL, "Name a colour.", max_tokens=4)
    sentence = str(err.value)
    assert "llama.cpp" in sentence and "SIGSEGV" in sentence and "self-check" in sentence
    assert "ggml_backend_amx_mul_mat" in sentence  # the log's last lines
    assert "LLMKIT_LOCAL_BACKEND=llama.cpp is set" in sentence and "\n" not in sentence
    assert time.monotonic() - start < 15
    with pytest.raises(LocalServerCrashedError, match="self-check"):  # not started again: the same sentence at once
        llm.chat(MODEL, "Again.", max_tokens=4)


@pytest.mark.server
def test_a_crash_in_the_middle_of_a_lesson_is_one_sentence_within_seconds(crashing_llama, monkeypatch):
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "llama.cpp")
    crashing_llama["n"] = 1  # the self-check passes; the lesson's first call kills it
    ls.running_server("smollm2")
    start = time.monotonic()
    with pytest.raises(LocalServerCrashedError, match=r"SIGSEGV .*while answering a request") as err:
        llm.chat(MODEL, "Name a colour.", max_tokens=4)  # retries with back-off would take 15 s and say "network"
    assert time.monotonic() - start < 5 and "network" not in str(err.value)


@pytest.mark.server
def test_the_kit_falls_back_to_transformers_when_llama_cpp_crashes(crashing_llama, monkeypatch, capsys):
    monkeypatch.delenv("LLMKIT_LOCAL_BACKEND", raising=False)
    r = llm.chat(MODEL, "Name a colour. One word.", max_tokens=8)
    said = capsys.readouterr().out
    assert said.count("The kit now serves the same model with transformers serve") == 1 and "SIGSEGV" in said
    assert ls._servers["smollm2"].backend == "transformers" and r.text.strip() and r.output_tokens > 0
    llm.chat(MODEL, "Name a fruit. One word.", max_tokens=8)
    assert "transformers serve" not in capsys.readouterr().out  # said once


@pytest.mark.server
def test_evaluation_stops_when_its_server_is_dead(crashing_llama, monkeypatch):
    from utils.evaluation import evaluate

    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "llama.cpp")
    items = [SimpleNamespace(title=f"item {i}", price=10.0 + i) for i in range(12)]
    calls = []

    def predictor(item):
        calls.append(item)
        return llm.chat(MODEL, f"Price of {item.title}?", max_tokens=4).text

    with pytest.raises(LocalServerCrashedError, match=r"stopped after 3 of 12 items, 0 answered: .*SIGSEGV"):
        evaluate(predictor, items, "dead server", progress=False)
    assert len(calls) == 3  # not a table of twelve misses


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama.cpp is not built here (Colab)")
@pytest.mark.server
def test_the_server_file_is_the_packaged_model_requantised_to_q8(monkeypatch, tmp_path):
    """llama.cpp serves Q8_0 (faster CPU kernels); it must hold the packaged Q4_1 model's tensors, weight for weight."""
    import gguf
    import numpy as np
    from gguf.quants import dequantize

    from utils.assets import smollm2_gguf, smollm2_server_gguf

    monkeypatch.setenv("LLMKIT_MODEL_CACHE", str(tmp_path))
    made = smollm2_server_gguf()
    assert made.parent == tmp_path and smollm2_server_gguf().stat().st_mtime_ns == made.stat().st_mtime_ns  # once
    source, served = gguf.GGUFReader(str(smollm2_gguf())), gguf.GGUFReader(str(made))
    assert served.fields["general.file_type"].parts[-1][0] == gguf.LlamaFileType.MOSTLY_Q8_0
    old, new = {t.name: t for t in source.tensors}, {t.name: t for t in served.tensors}
    assert old.keys() == new.keys() and len(old) > 200
    for name in ("blk.0.attn_q.weight", "blk.29.ffn_down.weight"):
        a, b = dequantize(old[name].data, old[name].tensor_type), dequantize(new[name].data, new[name].tensor_type)
        assert new[name].tensor_type == gguf.GGMLQuantizationType.Q8_0 and a.shape == b.shape
        assert np.abs(a - b).max() <= np.abs(a).max() / 127  # within one Q8_0 step of the largest weight
    assert not list(tmp_path.glob("*.partial-*"))
