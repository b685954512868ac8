"""Week 7 past one GPU: the plan chooses one GPU, DDP or FSDP with QLoRA by memory per card, and writes the
Accelerate config it launches with; the described nodes are planned without training."""

from pathlib import Path

import pytest
import yaml

from utils import catalog, hardware
from utils import training_plan as tp
from utils.errors import BadInputError

pytestmark = pytest.mark.unit

LLAMA_8B, LLAMA_70B = (
    catalog.model_params_b("meta-llama/Llama-3.1-8B"),
    catalog.model_params_b("meta-llama/Llama-3.1-70B"),
)


@pytest.mark.parametrize(
    ("gpu", "n", "params_b", "layers", "strategy"),
    [
        ("T4", 1, LLAMA_8B, 32, "one GPU"),  # Colab's card
        ("T4", 2, LLAMA_8B, 32, "DDP"),  # Kaggle's two free T4s: a QLoRA copy on each
        ("L4", 4, LLAMA_8B, 32, "DDP"),
        ("H100 80GB", 8, LLAMA_8B, 32, "DDP"),
        ("H100 80GB", 8, LLAMA_70B, 80, "DDP"),  # 70B in 4-bit fits one H100: peft's "DDP+QLoRA on 80GB GPUs"
        ("L4", 2, LLAMA_70B, 80, "FSDP + QLoRA"),  # peft's 70B on 2 x 24 GB
        ("T4", 4, LLAMA_70B, 80, "FSDP + QLoRA"),
    ],
)
def test_the_plan_chooses_by_memory_per_card_and_keeps_the_global_batch(gpu, n, params_b, layers, strategy):
    device = hardware.GPUS[gpu]
    plan = tp.plan_cluster(device, n, params_b, layers, global_batch=16)
    assert plan.strategy == strategy and plan.processes == n
    assert plan.memory_gb_per_gpu <= hardware.USABLE_MEMORY * device.memory_gb  # it fits each card
    assert plan.global_batch == 16  # the split batch, accumulated, is the batch one GPU would take
    if strategy == "DDP":  # a whole copy per card: exactly what one card of the node would run
        alone = tp.plan_training(device, params_b, plan.per_device.batch_size)
        assert (plan.per_device.mode, plan.memory_gb_per_gpu) == (alone.mode, alone.memory_gb)
        assert "whole copy" in plan.reason
    if strategy == "FSDP + QLoRA":  # no single card holds it, even in 4-bit with batch 1
        with pytest.raises(BadInputError, match="does not fit"):
            tp.plan_training(device, params_b, 1)


def test_the_fsdp_config_is_peft_s_recipe_for_qlora(tmp_path):
    plan = tp.plan_cluster(hardware.GPUS["L4"], 2, LLAMA_70B, 80)
    assert plan.per_device.quantize_4bit and plan.per_device.gradient_checkpointing
    assert plan.quant_storage == plan.per_device.compute_dtype == "bfloat16"  # else each Linear4bit is its own unit
    written = yaml.safe_load(tp.write_accelerate_config(plan, tmp_path / "accelerate.yaml").read_text())
    fsdp = written["fsdp_config"]
    assert (
        written["distributed_type"] == "FSDP" and written["num_processes"] == 2 and written["mixed_precision"] == "bf16"
    )
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP" and fsdp["fsdp_use_orig_params"] is False
    assert fsdp["fsdp_cpu_ram_efficient_loading"] is True and fsdp["fsdp_state_dict_type"] == "SHARDED_STATE_DICT"
    assert fsdp["fsdp_offload_params"] is plan.cpu_offload is True  # 49 GB of 4-bit weights over 2 x 24 GB
    t4 = tp.plan_cluster(hardware.GPUS["T4"], 4, LLAMA_70B, 80)
    assert t4.quant_storage == "float16" and t4.accelerate_config()["mixed_precision"] == "fp16"  # no bf16 on a T4


def test_ddp_and_one_gpu_configs_carry_no_fsdp_settings():
    ddp = tp.plan_cluster(hardware.GPUS["T4"], 2, LLAMA_8B, 32).accelerate_config()
    one = tp.plan_cluster(hardware.GPUS["H100 80GB"], 1, LLAMA_8B, 32).accelerate_config()
    assert ddp["distributed_type"] == "MULTI_GPU" and ddp["num_processes"] == 2 and "fsdp_config" not in ddp
    assert one["distributed_type"] == "NO" and one["mixed_precision"] == "bf16"


def test_what_cannot_run_is_one_sentence():
    with pytest.raises(BadInputError, match="FSDP does not run in practice.*gloo"):
        tp.plan_cluster(None, 2, LLAMA_8B)
    with pytest.raises(BadInputError, match="at least 1"):
        tp.plan_cluster(hardware.GPUS["T4"], 0, LLAMA_8B)
    with pytest.raises(BadInputError, match="does not fit 2 x T4 even with FSDP"):
        tp.plan_cluster(hardware.GPUS["T4"], 2, 400.0, 126)


def _train_week7():
    """scripts/train_week7.py as a module (it is run by torchrun, so it is not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "train_week7.py"
    spec = importlib.util.spec_from_file_location("train_week7", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_says_how_it_trains_and_sends_a_model_that_needs_fsdp_to_accelerate(monkeypatch, tmp_path):
    from utils.finetune import FineTuneConfig

    script, config = _train_week7(), FineTuneConfig(base="llama-3.1-8b")
    monkeypatch.setenv("LLMKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(hardware, "current_gpu", lambda: None)
    assert script.plan_for(config, 2).startswith("no GPU here: 2 process(es) on this CPU (gloo)")
    monkeypatch.setattr(hardware, "current_gpu", lambda: hardware.GPUS["T4"])
    assert script.plan_for(config, 2).startswith("DDP on 2 x ")  # 8B in 4-bit fits a T4: a whole copy on each
    monkeypatch.setattr(hardware, "current_gpu", lambda: hardware.GPU("NVIDIA 4 GB", 4.0, False))
    with pytest.raises(BadInputError, match=r"accelerate launch --config_file .*accelerate_fsdp.yaml"):
        script.plan_for(config, 2)  # a shard fits, a copy does not: FSDP, which torchrun alone does not set up
    assert (tmp_path / "finetune" / "accelerate_fsdp.yaml").exists()
