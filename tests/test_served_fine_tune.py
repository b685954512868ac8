"""Week 7's adapter served like any model: converted to a GGUF LoRA for llama.cpp (or merged for transformers serve),
asked through chat() in its training format."""

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from utils import fine_tuned
from utils.assets import smollm2_folder, smollm2_server_gguf
from utils.client import local_server
from utils.client.llm import chat
from utils.prices import Item

pytestmark = pytest.mark.server

ITEMS = [
    Item(f"item {i}", f"A {kind}, model {i}.", 20.0 + i, "test") for i, kind in enumerate(["kettle", "lamp", "saw"])
]


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    """A LoRA on SmolLM2 with random (not zero) updates, so it visibly changes the model's answers."""
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(smollm2_folder(), dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    model = get_peft_model(base, config).eval()
    folder = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(folder)
    return folder, model, AutoTokenizer.from_pretrained(smollm2_folder())


@pytest.mark.parametrize("backend", ["llama.cpp", "transformers"])
def test_the_served_adapter_is_asked_its_training_prompt_and_changes_the_answers(adapter, backend, monkeypatch):
    folder, model, tok = adapter
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", backend)
    served = fine_tuned.serve(folder, tok, smollm2_server_gguf() if backend == "llama.cpp" else None, f"ft-{backend}")
    tune = local_server._fine_tunes[f"ft-{backend}"]
    assert (tune.lora_gguf is not None) == (backend == "llama.cpp")
    if backend == "llama.cpp":  # Ollama's recipe for the same model: the base, the LoRA, the prompt as it is
        modelfile = (folder / "Modelfile").read_text().splitlines()
        assert modelfile[:3] == [
            f"FROM {tune.base_gguf.resolve()}",
            f"ADAPTER {tune.lora_gguf.resolve()}",
            'TEMPLATE """{{ .Prompt }}"""',
        ]
    replies = [chat(served, fine_tuned.training_prompt(it), max_tokens=6) for it in ITEMS]
    base = [chat("local/smollm2", fine_tuned.training_prompt(it), max_tokens=6).text for it in ITEMS]
    # the prompt is the training prompt token for token: no chat template was wrapped around it
    assert [r.input_tokens for r in replies] == [len(tok(it.prompt())["input_ids"]) for it in ITEMS]
    assert [r.text for r in replies] != base  # the adapter is applied (smollm2's own server answers otherwise)
    if backend == "transformers":  # the merged float32 model is the notebook's model: the same greedy answers
        assert [r.text.lstrip() for r in replies] == [fine_tuned.generate_price(model, tok, it, 6) for it in ITEMS]


def test_with_transformers_chosen_the_fine_tune_is_merged_even_beside_a_gguf_base(adapter, monkeypatch):
    folder, _, tok = adapter
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "transformers")  # Colab's path, or a student's choice
    fine_tuned.serve(folder, tok, smollm2_server_gguf(), "ft-forced")  # the notebook passes the GGUF base offline
    tune = local_server._fine_tunes["ft-forced"]
    assert tune.lora_gguf is None and (tune.folder / "config.json").exists()  # a merged model transformers can load
