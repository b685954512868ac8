import warnings

import pytest
import torch

from utils import catalog, fine_tuned, hardware
from utils import training as ft
from utils.errors import BadInputError
from utils.prices import Item
from utils.tokens import smollm2_tokenizer

ITEMS = [
    Item(f"t{i}", f"A {c} kettle with a {s} litre tank.", float(p), "s")
    for i, (c, s, p) in enumerate(
        [
            (c, s, 20 + 7 * i)
            for i, (c, s) in enumerate(
                [(c, s) for c in ("red", "blue", "steel", "white") for s in ("1", "1.5", "2", "3")]
            )
        ]
    )
]


@pytest.fixture(scope="module")
def tok():
    t = smollm2_tokenizer()
    t.pad_token = t.pad_token or t.eos_token
    return t


@pytest.fixture
def tiny_model(tok, tiny_llama):
    """A tiny Llama with SmolLM2's vocabulary and special tokens."""
    return tiny_llama(len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)


@pytest.mark.unit
def test_prompt_is_masked_and_only_the_price_is_learned(tok):
    ex, cut = ft.encode_example(tok, ITEMS[0], max_length=128)
    learned = [t for t, label in zip(ex["input_ids"], ex["labels"]) if label != -100]
    assert not cut and tok.decode(learned).startswith(ITEMS[0].completion())
    n_prompt = len(tok(ITEMS[0].prompt(), add_special_tokens=False)["input_ids"])
    assert ex["labels"][:n_prompt] == [-100] * n_prompt and len(ex["labels"]) == len(ex["input_ids"])


@pytest.mark.unit
def test_too_long_examples_are_shortened_not_dropped(tok):
    long = Item("t", "word " * 300, 42.0, "s")
    ex, cut = ft.encode_example(tok, long, max_length=64)
    assert cut and len(ex["input_ids"]) <= 64 and tok.decode([t for t in ex["labels"] if t != -100]).startswith("42")
    with pytest.raises(BadInputError, match="no room"):
        ft.encode_example(tok, long, max_length=16)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(r=0), "r \\(LoRA rank\\)"),
        (dict(dropout=1.0), "dropout"),
        (dict(learning_rate=5), "learning_rate"),
        (dict(base="gpt-4"), "base must be"),
        (dict(max_steps=0), "max_steps"),
        (dict(target_modules=()), "target"),
    ],
)
@pytest.mark.unit
def test_config_validation(kwargs, fragment):
    with pytest.raises(BadInputError, match=fragment):
        ft.FineTuneConfig(**kwargs).validate()


@pytest.mark.unit
def test_empty_or_tiny_dataset_is_refused(tok):
    with pytest.raises(BadInputError, match="at least 8"):
        ft.build_dataset(tok, ITEMS[:3], 128)


@pytest.mark.unit
def test_four_bit_without_bitsandbytes_explains_itself(monkeypatch):
    import builtins

    assert ft.can_quantize() == (True, "")  # bitsandbytes is installed: 4 bits on a GPU, or on this CPU
    real_import = builtins.__import__

    def no_bitsandbytes(name, *args, **kwargs):
        if name == "bitsandbytes":
            raise ImportError("No module named 'bitsandbytes'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_bitsandbytes)
    ok, why = ft.can_quantize()
    assert not ok and "pip install bitsandbytes" in why


@pytest.mark.training
def test_a_few_lora_steps_reduce_the_loss_and_the_adapter_round_trips(tok, tiny_model, tmp_path, monkeypatch):
    from peft import PeftModel

    monkeypatch.setattr(ft, "cache_dir", lambda *p: tmp_path)
    cfg = ft.FineTuneConfig(
        r=4,
        alpha=8,
        learning_rate=5e-3,
        max_steps=12,
        batch_size=8,
        logging_steps=4,
        save_steps=6,
        warmup_steps=0,
        run_name="test",
    ).validate()
    data = ft.build_dataset(tok, ITEMS, cfg.max_length)
    base_weights = {k: v.clone() for k, v in tiny_model.state_dict().items()}  # peft wraps the model in place
    model = ft.lora_model(tiny_model, cfg)
    trainer = ft.make_trainer(model, tok, data, cfg, callbacks=[ft.StopAtStep(6)])
    trainer.train()
    assert trainer.state.global_step == 6 and ft.last_checkpoint(cfg).endswith("checkpoint-6")
    model.eval()
    with torch.no_grad():
        at_step_6 = model(torch.tensor([data[0]["input_ids"]])).logits
    model.train()
    taken = ft.StepsTaken()
    trainer = ft.make_trainer(model, tok, data, cfg, callbacks=[taken])
    trainer.train(resume_from_checkpoint=ft.last_checkpoint(cfg))
    losses = [loss for _, loss in ft.loss_history(trainer)]
    assert trainer.state.global_step == 12 and losses[-1] < losses[0]
    assert taken.steps == list(range(7, 13))  # only the steps after the checkpoint: a fresh start would take 1-12

    # the learning curve reads the run's checkpoints: loading checkpoint-6 gives the model as it was at step 6, and
    # the trained weights come back afterwards
    ids = torch.tensor([data[0]["input_ids"]])
    model.eval()  # no LoRA dropout
    with torch.no_grad():
        trained_logits = model(ids).logits
    assert [step for step, _ in ft.checkpoints(cfg)] == [6, 12]
    ft.load_adapter_weights(model, ft.checkpoints(cfg)[0][1])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, at_step_6)
    with pytest.raises(BadInputError, match="holds no adapter_model.safetensors"):
        ft.load_adapter_weights(model, tmp_path)
    ft.load_adapter_weights(model, ft.checkpoints(cfg)[-1][1])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, trained_logits)

    model.save_pretrained(tmp_path / "adapter")
    base_copy = type(tiny_model)(tiny_model.config)
    base_copy.load_state_dict(base_weights)
    reloaded = PeftModel.from_pretrained(base_copy, tmp_path / "adapter").eval()
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, reloaded(ids).logits, atol=1e-5)
    assert fine_tuned.folder_megabytes(tmp_path / "adapter") < 1


@pytest.mark.unit
def test_model_files_megabytes_reads_a_folder_or_the_hugging_face_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"\0" * 2_000_000)
    (folder / "notes.txt").write_bytes(b"\0" * 5_000_000)  # not a weight file
    assert fine_tuned.model_files_megabytes(str(folder)) == pytest.approx(2.0)
    repo = tmp_path / "hub" / "models--org--tiny"  # the cache's layout: a snapshot per commit, refs/main names it
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "model.safetensors").write_bytes(b"\0" * 3_000_000)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert fine_tuned.model_files_megabytes("org/tiny") == pytest.approx(3.0)


DEVICES = {  # described devices: (name, memory GB, bf16) -> the mode plan_training must choose for Llama 3.1 8B
    "H100": (hardware.GPU("NVIDIA H100 80GB HBM3", 79.6, True), "16-bit", "bfloat16", 16),
    "A100-80": (hardware.GPU("NVIDIA A100-SXM4-80GB", 79.2, True), "16-bit", "bfloat16", 16),
    "A100-40": (hardware.GPU("NVIDIA A100-SXM4-40GB", 39.4, True), "4-bit + checkpointing", "bfloat16", 16),
    "L4": (hardware.GPU("NVIDIA L4", 22.0, True), "4-bit + checkpointing", "bfloat16", 16),
    "T4": (hardware.GPU("Tesla T4", 14.7, False), "4-bit + checkpointing", "float16", 8),
}


@pytest.mark.parametrize("name", DEVICES)
@pytest.mark.unit
def test_the_training_config_follows_the_hardware(name):
    device, mode, dtype, batch = DEVICES[name]
    plan = ft.plan_training(device, params_b=catalog.model_params_b("meta-llama/Llama-3.1-8B"))
    assert (plan.mode, plan.compute_dtype, plan.batch_size) == (mode, dtype, batch)
    assert plan.batch_size * plan.grad_accum == 16 and plan.memory_gb <= 0.9 * device.memory_gb
    assert device.name in plan.reason and mode in plan.reason


@pytest.mark.unit
def test_a_smaller_model_gets_the_faster_config_and_no_gpu_gets_the_cpu_one():
    small = catalog.model_params_b("meta-llama/Llama-3.2-3B")
    assert ft.plan_training(hardware.GPU("NVIDIA L4", 22.0, True), params_b=small).mode == "16-bit"
    assert ft.plan_training(None, params_b=8).mode == "cpu"
    with pytest.raises(BadInputError, match="does not fit"):
        ft.plan_training(hardware.GPU("tiny", 4.0, False), params_b=70)


@pytest.mark.unit
def test_full_profile_config_uses_the_plan():
    from utils import profile as prof

    full = prof.Profile("full", "test", [], "x", prof.SIZES["full"])
    cfg = ft.config_for(full, device=DEVICES["T4"][0])
    assert cfg.quantize_4bit and cfg.gradient_checkpointing and cfg.compute_dtype == "float16"
    cfg = ft.config_for(full, device=DEVICES["H100"][0])
    assert not cfg.quantize_4bit and not cfg.gradient_checkpointing and cfg.compute_dtype == "bfloat16"
    assert cfg.base == "llama-3.1-8b"


@pytest.mark.unit
def test_the_config_trains_the_model_week_4s_rule_picked():
    from utils import profile as prof

    full = prof.Profile("full", "test", [], "x", prof.SIZES["full"])
    pick = catalog.pick_price_model(catalog.open_llm_leaderboard())
    assert ft.BASE_MODELS[ft.config_for(full, device=DEVICES["L4"][0], base=pick["model"]).base] == pick["model"]
    cfg = ft.config_for(full, device=DEVICES["L4"][0], base="meta-llama/Llama-3.2-3B")
    assert cfg.base == "llama-3.2-3b" and cfg.compute_dtype == "bfloat16" and not cfg.quantize_4bit  # 3B fits in 16-bit
    with pytest.raises(BadInputError, match="No fine-tuning set-up for 'mistralai/Mistral-7B-v0.3'"):
        ft.config_for(full, device=DEVICES["L4"][0], base="mistralai/Mistral-7B-v0.3")


@pytest.mark.training
def test_llama_gets_its_bos_token_in_training_and_generation(tok):
    from transformers import LlamaTokenizerFast

    llama_like = LlamaTokenizerFast(
        tokenizer_object=tok.backend_tokenizer,
        bos_token=tok.bos_token,
        eos_token=tok.eos_token,
        add_bos_token=True,
        add_eos_token=False,
    )
    ex, _ = ft.encode_example(llama_like, ITEMS[0], max_length=128)
    assert ex["input_ids"][0] == llama_like.bos_token_id and ex["input_ids"].count(llama_like.bos_token_id) == 1
    plain, _ = ft.encode_example(tok, ITEMS[0], max_length=128)  # SmolLM2's tokenizer adds none: nothing added
    assert plain["input_ids"] == ex["input_ids"][1:]


@pytest.mark.unit
def test_reading_the_output_dir_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMKIT_CACHE", str(tmp_path))
    cfg = ft.FineTuneConfig(run_name="never-trained")
    assert not cfg.output_dir.exists() and ft.last_checkpoint(cfg) is None


@pytest.mark.training
def test_grouping_by_length_cuts_padding(tok, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMKIT_CACHE", str(tmp_path))
    varied = [Item(f"t{i}", "A kettle. " + "Very shiny and strong. " * (i % 9), 10.0 + i, "s") for i in range(256)]
    data = ft.build_dataset(tok, varied, 128)
    shares = {}
    for grouped in (False, True):
        cfg = ft.FineTuneConfig(batch_size=8, max_steps=1, group_by_length=grouped, run_name=f"pad{grouped}")
        shares[grouped] = fine_tuned.padding_share(ft.make_trainer(tiny_model, tok, data, cfg))
    assert shares[False] > 0.2 and shares[True] < shares[False] / 2


@pytest.mark.training
def test_price_only_logits_give_the_full_loss_and_gradients(tok, tiny_model):
    """The collator's left padding and last-positions logits must train exactly what full logits would."""
    from transformers import DataCollatorForSeq2Seq

    varied = ITEMS[:3] + [Item("long", "A kettle with a very long description of its features. " * 3, 1234.5, "s")]
    examples = ft.build_dataset(tok, varied * 2, 128)
    full = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)(examples)
    short = ft.PriceTokensCollator(tok)(examples)
    assert short["logits_to_keep"] < full["input_ids"].shape[1] // 3  # the point: few positions get logits
    grads = []
    for batch in (full, short):
        tiny_model.zero_grad()
        loss = tiny_model(**batch).loss
        loss.backward()
        grads.append((loss.item(), tiny_model.model.layers[0].self_attn.q_proj.weight.grad.clone()))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-6, rtol=1e-4)


@pytest.mark.training
def test_price_loss_and_nats_in_batches_equal_one_item_at_a_time(tok, tiny_model):
    items = ITEMS[:5] + [Item("long", "A kettle with a very long description of its features. " * 3, 1234.5, "s")]
    tiny_model.eval()
    nats, count = [], 0
    for item in items:  # the definition: every learned token of every item, weighted equally
        ex, _ = ft.encode_example(tok, item, 128)
        with torch.no_grad():
            loss = tiny_model(input_ids=torch.tensor([ex["input_ids"]]), labels=torch.tensor([ex["labels"]])).loss
        n = sum(label != -100 for label in ex["labels"][1:])
        nats, count = nats + [loss.item() * n], count + n
    assert ft.price_token_loss(tiny_model, tok, items, 128, batch_size=4) == pytest.approx(sum(nats) / count, rel=1e-5)
    # per item, -log P(the learned text | prompt): the same numbers whatever the batch (left padding costs nothing)
    assert ft.price_nats(tiny_model, tok, items, 128, batch_size=4) == pytest.approx(nats, rel=1e-5)


@pytest.mark.training
def test_batched_generation_matches_one_at_a_time(tok, tiny_model):
    tiny_model.eval()
    items = ITEMS[:6] + [Item("long", "A kettle with a very long description of its many features. " * 3, 9.0, "s")]
    one = [fine_tuned.generate_price(tiny_model, tok, it) for it in items]
    batched = fine_tuned.generate_prices(tiny_model, tok, items, batch_size=4)
    assert batched == one and tok.padding_side == "right"


@pytest.mark.training
def test_every_price_scored_in_one_pass_equals_each_price_scored_alone(tok, tiny_model):
    tiny_model.eval()
    tree = fine_tuned.price_tree(tok, top=120)  # one-, two- and three-digit prices
    items = ITEMS[:2] + [Item("long", "A kettle with a very long description of its many features. " * 3, 9.0, "s")]
    prompts = [fine_tuned.prompt_ids(tok, it, max_length=48) for it in items]
    probs = fine_tuned.price_distributions(tiny_model, tok, prompts, tree, batch_size=2)  # padded batches
    written = {p: tok(str(p), add_special_tokens=False)["input_ids"] for p in tree.prices}
    for prompt, row in zip(prompts, probs):
        scores = []
        for p, ids in written.items():  # the definition: the price's text, then '.' where a longer price goes on
            goes_on = any(len(o) > len(ids) and o[: len(ids)] == ids for o in written.values())
            text = tok(f"{p}.00", add_special_tokens=False)["input_ids"][: len(ids) + goes_on]
            with torch.no_grad():
                logp = torch.log_softmax(tiny_model(torch.tensor([prompt + text])).logits[0].float(), -1)
            scores.append(sum(logp[len(prompt) - 1 + k, t].item() for k, t in enumerate(text)))
        assert row.tolist() == pytest.approx(torch.softmax(torch.tensor(scores), 0).tolist(), abs=1e-6)
    assert len(prompts[2]) < 48 and probs.sum(1).tolist() == pytest.approx([1.0] * 3)


@pytest.mark.unit
def test_a_tokenizer_that_writes_each_price_as_one_token_scores_each_in_one_step(tok):
    from utils.tokens import get_tokenizer

    llama3 = get_tokenizer("llama3")  # the full profile's base model writes 1-999 as one token each
    tree = fine_tuned.price_tree(lambda text, add_special_tokens: {"input_ids": llama3.encode(text)})
    assert len(tree.inner) == 0 and tree.used.sum(1).tolist() == [1] * 999 and tree.rows.max() == 0
    digits = fine_tuned.price_tree(tok)  # SmolLM2: a digit a token; '14' also scores the '.' that ends it
    assert len(digits.inner) == 9 + 90 and digits.used.sum(1).tolist()[:12] == [2] * 9 + [3] * 3
    assert digits.used.sum(1).tolist()[99:] == [3] * 900


@pytest.mark.unit
def test_the_median_price_is_where_the_cumulative_probability_reaches_one_half():
    probs = torch.tensor([[0.2, 0.2, 0.1, 0.5], [0.6, 0.1, 0.1, 0.2], [0.0, 0.0, 0.0, 1.0]])
    assert fine_tuned.median_prices(probs, [5, 10, 20, 40]) == [20, 5, 40]
    with pytest.raises(BadInputError, match="readout must be one of median, greedy"):
        fine_tuned.PricePredictor(torch.nn.Linear(1, 1), None, readout="mean")


@pytest.mark.training
def test_the_harness_uses_the_batched_path(tok, tiny_model):
    from utils.evaluation import evaluate

    reports = {}
    for readout in fine_tuned.READOUTS:
        predictor = fine_tuned.PricePredictor(tiny_model, tok, batch_size=4, readout=readout)
        calls: list[int] = []
        original = predictor.predict_batch
        predictor.predict_batch = lambda chunk, calls=calls, original=original: (
            calls.append(len(chunk)) or original(chunk)
        )
        reports[readout] = evaluate(predictor, ITEMS[:10], "tiny", progress=False)
        assert calls == [4, 4, 2] and reports[readout].n == 10
    assert reports["median"].unparseable == 0  # the median readout always names a price in the task's range


@pytest.mark.training
def test_throughput_is_timed_after_a_warm_up_step_and_leaves_no_checkpoint():
    config = ft.FineTuneConfig(max_steps=30, batch_size=4, max_length=48, group_by_length=False).validate()
    with pytest.raises(BadInputError, match="at least 2"):
        fine_tuned.measure_throughput(config, ITEMS, steps=1)
    m = fine_tuned.measure_throughput(config, ITEMS, steps=3)
    assert m["steps"] == 3 and m["seconds"] > 0 and m["tokens_per_s"] > 0 and 5 < m["tokens_per_item"] < 48
    assert m["examples_per_s"] == pytest.approx(2 * 4 / m["seconds"])
    assert not m["config"].output_dir.exists() and config.max_steps == 30  # the caller's config is left alone


@pytest.mark.unit
def test_the_plan_tells_emulated_bf16_from_real_bf16(monkeypatch):
    """A T4 (compute capability 7.5) answers True to torch.cuda.is_bf16_supported() through emulation: the plan must
    still pick fp16 there, and bf16 on an A100 (8.0)."""
    from types import SimpleNamespace

    for name, capability, memory in (("Tesla T4", (7, 5), 15.6e9), ("NVIDIA A100-SXM4-40GB", (8, 0), 42.4e9)):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what a T4 answers too
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, capability=capability: capability)
        monkeypatch.setattr(
            torch.cuda, "get_device_properties", lambda *a, n=name, m=memory: SimpleNamespace(name=n, total_memory=m)
        )
        device = hardware.current_gpu()
        plan = ft.plan_training(device, params_b=catalog.model_params_b("meta-llama/Llama-3.1-8B"))
        expected = "bfloat16" if capability >= (8, 0) else "float16"
        assert device.bf16 == (capability >= (8, 0)) and plan.compute_dtype == expected, name


@pytest.mark.training
def test_the_qlora_path_runs_on_a_cpu_load_prepare_checkpoint_train_save_reload_merge(tmp_path, monkeypatch):
    """The 4-bit branch the plan picks for a T4, L4 or A100-40, on a tiny Llama with bitsandbytes on the CPU."""
    from peft import PeftModel

    from utils.standins.rehearsal import build_tiny_llama

    monkeypatch.setenv("LLMKIT_HF_MODEL", str(build_tiny_llama(tmp_path / "tiny")))
    monkeypatch.setattr(ft, "cache_dir", lambda *p: tmp_path / "runs")
    cfg = ft.FineTuneConfig(
        base="llama-3.1-8b",
        r=4,
        alpha=8,
        learning_rate=5e-3,
        max_steps=3,
        batch_size=4,
        quantize_4bit=True,
        gradient_checkpointing=True,
        compute_dtype="float32",
        logging_steps=1,
        save_steps=100,
        warmup_steps=0,
        run_name="qlora-cpu",
    )
    cfg.validate()
    tok, base = ft.load_base(cfg)
    assert getattr(base, "is_loaded_in_4bit", False), "load_base did not quantise"
    assert any(type(m).__name__ == "Linear4bit" for m in base.modules())
    model = ft.lora_model(base, cfg)
    assert any(getattr(m, "gradient_checkpointing", False) for m in model.modules())  # checkpointing is on
    trainer = ft.make_trainer(model, tok, ft.build_dataset(tok, ITEMS, cfg.max_length), cfg)
    with warnings.catch_warnings():  # the checkpointing mode is chosen, so torch has nothing to warn a student about
        warnings.filterwarnings("error", "torch.utils.checkpoint: the use_reentrant", UserWarning)
        trainer.train()
    losses = [loss for _, loss in ft.loss_history(trainer)]
    assert trainer.state.global_step == 3 and all(loss == loss for loss in losses)  # trained, no NaN
    model.save_pretrained(tmp_path / "adapter")
    _, fresh = ft.load_base(cfg)
    reloaded = PeftModel.from_pretrained(fresh, tmp_path / "adapter").eval()
    model.eval()
    probe = tok(ITEMS[0].prompt(), return_tensors="pt")
    with torch.no_grad():
        gap = (model(**probe).logits - reloaded(**probe).logits).abs().max().item()
        merged = reloaded.merge_and_unload()
        assert merged(**probe).logits.shape == model(**probe).logits.shape
    assert gap <= ft.logit_tolerance(cfg)  # the same quantised weights and adapter


@pytest.mark.training
def test_wrapping_in_lora_prints_no_library_warning(tiny_model):
    # week 4 and week 7 call lora_model; a deprecation inside peft/transformers is not the student's to read
    cfg = ft.FineTuneConfig(r=4, alpha=8, gradient_checkpointing=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        model = ft.lora_model(tiny_model, cfg)
    assert model.get_nb_trainable_parameters()[0] > 0


@pytest.mark.unit
def test_lora_on_the_top_layers_leaves_the_lower_ones_without_adapters():
    from utils.standins.rehearsal import tiny_llama

    cfg = ft.FineTuneConfig(r=4, alpha=8, top_layers=1, target_modules=ft.ATTENTION_AND_MLP).validate()
    model = ft.lora_model(tiny_llama(97, num_hidden_layers=3), cfg)
    trained = {name.split("layers.")[1].split(".")[0] for name, p in model.named_parameters() if p.requires_grad}
    assert trained == {"2"}  # the top one of 3 layers, and only there
    assert any("mlp.down_proj.lora_A" in name for name, p in model.named_parameters() if p.requires_grad)
    with pytest.raises(BadInputError, match="top_layers must be >= 0"):
        ft.FineTuneConfig(top_layers=-1).validate()
