import pytest
import torch

from utils import finetune as ft
from utils.errors import BadInputError
from utils.prices import Item
from utils.tokens import smollm2_tokenizer

ITEMS = [Item(f"t{i}", f"A {c} kettle with a {s} litre tank.", float(p), "s")
         for i, (c, s, p) in enumerate([(c, s, 20 + 7 * i) for i, (c, s) in enumerate(
             [(c, s) for c in ("red", "blue", "steel", "white") for s in ("1", "1.5", "2", "3")])])]


@pytest.fixture(scope="module")
def tok():
    t = smollm2_tokenizer()
    t.pad_token = t.pad_token or t.eos_token
    return t


@pytest.fixture
def tiny_model(tok):
    """A tiny Llama built from a config with SmolLM2's vocabulary: trains in seconds, nothing downloaded."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    return LlamaForCausalLM(cfg)


def test_prompt_is_masked_and_only_the_price_is_learned(tok):
    ex, cut = ft.encode_example(tok, ITEMS[0], max_length=128)
    learned = [t for t, label in zip(ex["input_ids"], ex["labels"]) if label != -100]
    assert not cut and tok.decode(learned).startswith(ITEMS[0].completion())
    n_prompt = len(tok(ITEMS[0].prompt(), add_special_tokens=False)["input_ids"])
    assert ex["labels"][:n_prompt] == [-100] * n_prompt and len(ex["labels"]) == len(ex["input_ids"])


def test_too_long_examples_are_shortened_not_dropped(tok):
    long = Item("t", "word " * 300, 42.0, "s")
    ex, cut = ft.encode_example(tok, long, max_length=64)
    assert cut and len(ex["input_ids"]) <= 64 and tok.decode([t for t in ex["labels"] if t != -100]).startswith("42")
    with pytest.raises(BadInputError, match="no room"):
        ft.encode_example(tok, long, max_length=16)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(r=0), "r \\(LoRA rank\\)"), (dict(dropout=1.0), "dropout"), (dict(learning_rate=5), "learning_rate"),
    (dict(base="gpt-4"), "base must be"), (dict(max_steps=0), "max_steps"), (dict(target_modules=()), "target"),
])
def test_config_validation(kwargs, fragment):
    with pytest.raises(BadInputError, match=fragment):
        ft.FineTuneConfig(**kwargs).validate()


def test_empty_or_tiny_dataset_is_refused(tok):
    with pytest.raises(BadInputError, match="at least 8"):
        ft.build_dataset(tok, ITEMS[:3], 128)


def test_four_bit_without_a_gpu_explains_itself():
    ok, why = ft.can_quantize()
    assert ok == torch.cuda.is_available() and (ok or "GPU" in why or "bitsandbytes" in why)


def test_a_few_lora_steps_reduce_the_loss_and_the_adapter_round_trips(tok, tiny_model, tmp_path, monkeypatch):
    from peft import PeftModel

    monkeypatch.setattr(ft, "cache_dir", lambda *p: tmp_path)
    cfg = ft.FineTuneConfig(r=4, alpha=8, learning_rate=5e-3, max_steps=12, batch_size=8, logging_steps=4,
                            save_steps=6, warmup_steps=0, run_name="test").validate()
    data = ft.build_dataset(tok, ITEMS, cfg.max_length)
    base_weights = {k: v.clone() for k, v in tiny_model.state_dict().items()}  # peft wraps the model in place
    model = ft.lora_model(tiny_model, cfg)
    trainer = ft.make_trainer(model, tok, data, cfg, callbacks=[ft.StopAtStep(6)])
    trainer.train()
    assert trainer.state.global_step == 6 and ft.last_checkpoint(cfg).endswith("checkpoint-6")
    trainer = ft.make_trainer(model, tok, data, cfg)
    trainer.train(resume_from_checkpoint=ft.last_checkpoint(cfg))
    losses = [loss for _, loss in ft.loss_history(trainer)]
    assert trainer.state.global_step == 12 and losses[-1] < losses[0]

    model.save_pretrained(tmp_path / "adapter")
    base_copy = type(tiny_model)(tiny_model.config)
    base_copy.load_state_dict(base_weights)
    reloaded = PeftModel.from_pretrained(base_copy, tmp_path / "adapter").eval()
    model.eval()
    ids = torch.tensor([data[0]["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, reloaded(ids).logits, atol=1e-5)
    assert ft.folder_megabytes(tmp_path / "adapter") < 1
