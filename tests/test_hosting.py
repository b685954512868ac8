"""Hosting and fine-tuning arithmetic, long-context text density, and the mixture-of-experts layer."""

import pandas as pd
import pytest
import torch

from utils import catalog, hardware, hosting, tokens
from utils.errors import BadInputError
from utils.moe import MoELayer

pytestmark = pytest.mark.unit


def test_kv_cache_of_llama_3_1_8b_by_hand():
    # 2 (key and value) x 32 layers x 8 KV heads x 128 dims x 2 bytes = 128 KiB per token
    assert hosting.kv_bytes_per_token(32, 8, 128) == 131_072
    assert hosting.serving_memory_gb(8.0, "bf16", 131_072, 1000, 16) == pytest.approx(16 + 2.097152)


def test_kv_cache_from_smollm2_config_matches_the_facts_table():
    from transformers import AutoConfig

    from utils.assets import smollm2_folder

    row = catalog.open_model_facts().set_index("model").loc["SmolLM2 135M"]
    config = AutoConfig.from_pretrained(smollm2_folder())
    assert hosting.kv_bytes_from_config(config) == hosting.kv_bytes_per_token(row.layers, row.kv_heads, row.head_dim)


def test_gpus_follow_memory_and_bandwidth_caps_throughput():
    h100, l4 = hardware.GPUS["H100 80GB"], hardware.GPUS["L4"]
    assert hosting.gpus_needed(72.0, h100) == 1 and hosting.gpus_needed(72.1, h100) == 2
    assert hosting.gpus_needed(141.2, h100) == 2 and hosting.gpus_needed(141.2, l4) == 7
    # batch 1, no cache: one pass over 16 GB of weights per token at 3,350 GB/s
    assert hosting.decode_tokens_per_s(8.0, "bf16", 0, 1, 1, h100) == pytest.approx(3350 / 16)


def test_self_hosting_table_flags_a_volume_one_gpu_cannot_write():
    models = pd.DataFrame([{"model": "m", "params_b": 70.0, "layers": 80, "kv_heads": 8, "head_dim": 128}])
    small = hosting.self_hosting_table(models, hardware.GPUS["L4"], 1.0, 1000, 1, 1e6).set_index("weights")
    huge = hosting.self_hosting_table(models, hardware.GPUS["L4"], 1.0, 1000, 1, 1e12).set_index("weights")
    assert small["serves_the_volume"].all() and not huge["serves_the_volume"].any()
    assert small.loc["bf16", "gpus"] > small.loc["4-bit", "gpus"] and small.loc["4-bit", "monthly_usd"] == 2 * 720


def test_bad_hosting_input_is_a_clear_error():
    with pytest.raises(BadInputError, match="weights must be one of"):
        hosting.serving_memory_gb(8, "fp8", 1, 1, 1)
    with pytest.raises(BadInputError, match="must be positive"):
        hosting.fine_tuning_cost(0, 182, 1, 1000, 2.0)


def test_fine_tuning_cost_by_hand():
    cost = hosting.fine_tuning_cost(400_000, 182, 1, 8_800, 2.0)
    assert cost["tokens"] == 72_800_000 and cost["hours"] == pytest.approx(2.298, abs=1e-3)
    assert cost["usd"] == pytest.approx(2 * cost["hours"])


def test_moe_table_is_sourced_and_sparse():
    moe = hosting.moe_models()
    assert moe["source"].str.len().gt(10).all() and (moe["active_params_b"] < moe["total_params_b"]).all()


def test_text_density_korean_costs_more_tokens_than_english():
    density = tokens.text_density(tokens.text_samples(), ["llama3", "smollm2"]).set_index(["tokenizer", "text"])
    for name in ("llama3", "smollm2"):
        assert density.loc[(name, "Korean"), "chars_per_token"] < density.loc[(name, "English news"), "chars_per_token"]
    assert 3.5 < density.loc[("llama3", "English news"), "chars_per_token"] < 6


def test_moe_layer_routes_each_token_to_top_k_and_counts_active_parameters():
    torch.manual_seed(0)
    layer = MoELayer(d_model=16, d_ff=32, n_experts=4, top_k=2)
    x = torch.randn(50, 16)
    out, routing = layer(x)
    assert out.shape == x.shape and routing.experts.shape == (50, 2)
    assert torch.allclose(routing.weights.sum(-1), torch.ones(50)) and routing.share_per_expert().sum() == 1
    # the output is the weighted sum of the chosen experts, computed here token by token
    t = 7
    expected = sum(w * layer.experts[e](x[t]) for w, e in zip(routing.weights[t], routing.experts[t].tolist()))
    assert torch.allclose(out[t], expected, atol=1e-6)
    counts = layer.parameter_counts()
    per_expert = 3 * 16 * 32
    assert counts == {"total": 16 * 4 + 4 * per_expert, "active_per_token": 16 * 4 + 2 * per_expert}


def test_balance_loss_is_one_when_even_and_grows_when_crowded():
    layer = MoELayer(d_model=4, d_ff=8, n_experts=4, top_k=1)
    with torch.no_grad():
        layer.router.weight.copy_(torch.eye(4))
    even = layer.route(torch.eye(4) * 10).balance_loss.item()
    crowded = layer.route(torch.tensor([[10.0, 0, 0, 0]] * 4)).balance_loss.item()
    assert even == pytest.approx(1.0, abs=1e-3) and crowded > 3.9
    with pytest.raises(ValueError, match="top_k"):
        MoELayer(4, 8, n_experts=2, top_k=3)
