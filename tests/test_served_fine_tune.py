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
from utils.errors import BadInputError
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
    config = LoraConfig(r=8, lora_alpha=128, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    model = get_peft_model(base, config).eval()
    folder = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(folder)
    return folder, model, AutoTokenizer.from_pretrained(smollm2_folder())


def served_base(folder, tok, backend: str, tmp_path) -> str:
    """The adapter's base model on the same kind of server, in the same training format, without the adapter."""
    template = folder / "served_format.json"  # written by serve() for the fine-tune
    if backend == "llama.cpp":
        tune = local_server.FineTune(folder, template, smollm2_server_gguf())  # no lora_gguf: the base alone
    else:
        plain = tmp_path / "base"
        plain.mkdir()
        for name in ("config.json", "generation_config.json", "model.safetensors"):  # the base's own files, linked
            (plain / name).symlink_to(smollm2_folder() / name)
        tok.save_pretrained(plain)  # with the training format serve() set as its chat template
        tune = local_server.FineTune(plain, template)
    local_server.add_fine_tune(f"base-{backend}", tune)
    return f"local/base-{backend}"


@pytest.mark.parametrize("backend", ["llama.cpp", "transformers"])
def test_the_served_adapter_is_asked_its_training_prompt_and_changes_the_answers(
    adapter, backend, monkeypatch, tmp_path
):
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
    # the prompt is the training prompt token for token (ids, as the server's template and vocabulary make them),
    # and the server read that many tokens: no chat template was wrapped around it
    for it, reply in zip(ITEMS, replies):
        ids = fine_tuned.served_prompt_ids(served, fine_tuned.training_prompt(it))
        assert ids == tok(it.prompt())["input_ids"] and reply.input_tokens == len(ids)
    # the same server without the adapter, asked the same raw prompts, answers otherwise: the adapter is applied
    base = served_base(folder, tok, backend, tmp_path)
    assert [r.text for r in replies] != [chat(base, fine_tuned.training_prompt(it), max_tokens=6).text for it in ITEMS]
    if backend == "transformers":  # the merged float32 model is the notebook's model: the same greedy answers
        assert [r.text.lstrip() for r in replies] == [
            fine_tuned.generate_price(model, tok, it, 6).lstrip() for it in ITEMS
        ]


def test_served_prompt_ids_name_a_model_that_is_not_a_served_fine_tune():
    with pytest.raises(BadInputError, match="not a fine-tune served by this kernel"):
        fine_tuned.served_prompt_ids("local/smollm2", [{"role": "user", "content": "hi"}])


def test_with_transformers_chosen_the_fine_tune_is_merged_even_beside_a_gguf_base(adapter, monkeypatch):
    folder, _, tok = adapter
    monkeypatch.setenv("LLMKIT_LOCAL_BACKEND", "transformers")  # Colab's path, or a student's choice
    fine_tuned.serve(folder, tok, smollm2_server_gguf(), "ft-forced")  # the notebook passes the GGUF base offline
    tune = local_server._fine_tunes["ft-forced"]
    assert tune.lora_gguf is None and (tune.folder / "config.json").exists()  # a merged model transformers can load
