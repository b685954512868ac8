"""Week 7 past one GPU: the plan chooses one GPU, DDP or FSDP with QLoRA by memory per card, and writes the
Accelerate config it launches with; the described nodes are planned without training."""

import shlex
import sys
from pathlib import Path

import pytest
import torch
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
    assert plan.fsdp and plan.per_device.compute_dtype == "bfloat16"  # the 4-bit weights' storage: test_...loaded_as
    written = yaml.safe_load(tp.write_accelerate_config(plan, tmp_path / "accelerate.yaml").read_text())
    fsdp = written["fsdp_config"]
    assert (
        written["distributed_type"] == "FSDP" and written["num_processes"] == 2 and written["mixed_precision"] == "bf16"
    )
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP" and fsdp["fsdp_use_orig_params"] is False
    assert fsdp["fsdp_cpu_ram_efficient_loading"] is True and fsdp["fsdp_state_dict_type"] == "SHARDED_STATE_DICT"
    assert fsdp["fsdp_offload_params"] is plan.cpu_offload is True  # 49 GB of 4-bit weights over 2 x 24 GB
    t4 = tp.plan_cluster(hardware.GPUS["T4"], 4, LLAMA_70B, 80)
    assert t4.per_device.compute_dtype == "float16" and t4.accelerate_config()["mixed_precision"] == "fp16"  # no bf16


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


def test_every_base_model_can_be_planned_on_a_node():
    """Each BASE_MODELS key has its size and depth in data/model_facts.csv (the stand-in its base model's)."""
    from utils import training as ft

    plans = {key: ft.plan_gpus(key, hardware.GPUS["L4"], 2) for key in ft.BASE_MODELS}
    assert plans["llama-3.1-70b"].fsdp and not plans["smollm2-135m-instruct"].fsdp
    assert {plan.strategy for plan in plans.values()} == {"DDP", "FSDP + QLoRA"}


SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_week7.py"


def _train_week7():
    """scripts/train_week7.py as a module (it is run by torchrun and Accelerate, so it is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_week7", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# (GPU kind, how many, base, the plan): Kaggle's two T4s, a lab's four L4s, and a 70B base on 2 x 24 GB
NODES = [
    ("T4", 2, "meta-llama/Llama-3.1-8B", "DDP"),
    ("L4", 4, "meta-llama/Llama-3.1-8B", "DDP"),
    ("L4", 2, "meta-llama/Llama-3.1-70B", "FSDP + QLoRA"),
]


@pytest.fixture
def full_profile(monkeypatch, tmp_path):
    """The full profile, its cache in tmp_path, on this CPU (no GPU and no launcher: a user planning elsewhere)."""
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "ACCELERATE_USE_FSDP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLMKIT_PROFILE", "full")
    monkeypatch.setenv("LLMKIT_CACHE", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(("gpu", "n", "base", "strategy"), NODES)
def test_the_script_plans_first_and_prints_the_exact_launch(full_profile, capsys, gpu, n, base, strategy):
    """On a machine without the plan's GPUs: the plan, the Accelerate config written, the command, exit 0; nothing
    raises "does not fit" for the 70B that no one card holds."""
    argv = ["--gpu", gpu, "--gpus", str(n), "--base", base, "--steps", "3"]
    assert _train_week7().main(argv) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0].startswith(f"{strategy} on {n} x {gpu}: ") and printed[1].startswith("each GPU: ")
    command = shlex.split(printed[-1])
    assert command[1:3] == ["launch", "--config_file"] and command[4:] == [str(SCRIPT), *argv]
    written = yaml.safe_load(Path(command[3]).read_text())
    assert written["num_processes"] == n and Path(command[3]).parent == full_profile / "finetune"
    assert written["distributed_type"] == {"DDP": "MULTI_GPU", "FSDP + QLoRA": "FSDP"}[strategy]
    assert ("fsdp_config" in written) == (strategy == "FSDP + QLoRA")


@pytest.mark.parametrize(("gpu", "n", "base", "strategy"), NODES)
def test_the_model_would_be_loaded_as_its_plan_says(full_profile, monkeypatch, gpu, n, base, strategy):
    """The from_pretrained arguments in rank 1 of the planned run: under FSDP the 4-bit weights packed in the compute
    dtype (bnb_4bit_quant_storage) and no device map (Accelerate places the shards); under DDP a whole copy on this
    process's own GPU, packed as bitsandbytes packs by default."""
    from utils import training as ft
    from utils.profile import get_profile

    assert ft.can_quantize()[0]  # bitsandbytes imported before torch is told it has a GPU
    plan, config = _train_week7().plan_run(get_profile(), hardware.GPUS[gpu], n, base)
    assert plan.strategy == strategy and config.fsdp == plan.fsdp and config.base == ft.base_key(base)
    each = plan.per_device  # the config is the cluster plan's per-GPU set-up, not plan_training's on one card
    assert (config.batch_size, config.grad_accum, config.compute_dtype) == (
        each.batch_size,
        each.grad_accum,
        each.compute_dtype,
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("WORLD_SIZE", str(n))
    monkeypatch.setenv("LOCAL_RANK", "1")
    kwargs = ft.load_kwargs(config)
    dtype = {"T4": torch.float16, "L4": torch.bfloat16}[gpu]
    assert kwargs["dtype"] == dtype and config.quantize_4bit  # 8B in 4-bit on a T4; 8B and 70B with a batch on an L4
    packed = kwargs["quantization_config"].bnb_4bit_quant_storage
    if strategy == "FSDP + QLoRA":
        assert packed == dtype and kwargs["device_map"] is None
    else:
        assert packed == torch.uint8 and kwargs["device_map"] == {"": 1}


def test_without_a_gpu_the_full_profile_trains_the_base_it_was_given(full_profile):
    """--base on a machine with no GPU (and no --gpu): no plan, and the config trains that base, not the default."""
    from utils import training as ft
    from utils.profile import get_profile

    plan, config = _train_week7().plan_run(get_profile(), None, 1, "meta-llama/Llama-3.2-3B")
    assert plan is None and config.base == ft.base_key("meta-llama/Llama-3.2-3B") != ft.full_base(None)


def test_the_run_trains_only_where_it_is_the_plan_s(monkeypatch):
    """As many processes as planned, that many GPUs, and FSDP set up by Accelerate exactly when the plan shards."""
    script = _train_week7()
    fsdp = tp.plan_cluster(hardware.GPUS["L4"], 2, LLAMA_70B, 80)
    ddp = tp.plan_cluster(hardware.GPUS["T4"], 2, LLAMA_8B, 32)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    assert script.runs_here(ddp, 2) and not script.runs_here(ddp, 1)  # torchrun (or accelerate) with 2 processes
    assert not script.runs_here(fsdp, 2)  # torchrun: no FSDP set up
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert script.runs_here(fsdp, 2) and not script.runs_here(ddp, 2)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert not script.runs_here(fsdp, 2)


def test_merging_under_fsdp_is_refused_in_a_sentence_before_anything_is_written(full_profile, monkeypatch, capsys):
    """Run as a user runs it (its __main__): exit 0 with the advice; exit 2 with one sentence for --merge under FSDP."""
    import runpy

    argv = [str(SCRIPT), "--gpu", "L4", "--gpus", "2", "--base", "meta-llama/Llama-3.1-70B"]
    monkeypatch.setattr(sys, "argv", [*argv, "--merge"])
    with pytest.raises(SystemExit) as refused:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    err = capsys.readouterr().err.strip()
    assert refused.value.code == 2 and err.startswith("Merging is refused under FSDP") and err.count(". ") == 0
    assert "merge on one machine afterwards" in err and "merge_and_unload()" in err
    assert not list(full_profile.rglob("*.yaml"))  # refused before the config is written: nothing to launch
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as planned:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert planned.value.code == 0 and (full_profile / "finetune" / "accelerate_fsdp.yaml").exists()


def test_what_the_script_cannot_plan_is_one_sentence(full_profile, monkeypatch):
    script = _train_week7()
    monkeypatch.setattr(hardware, "current_gpu", lambda: None)
    with pytest.raises(BadInputError, match="--gpus plans GPUs of one kind: name it with --gpu"):
        script.main(["--gpus", "2"])  # this CPU has no GPU to count
    with pytest.raises(BadInputError, match="--gpus must be at least 1"):
        script.main(["--gpu", "T4", "--gpus", "0"])
    monkeypatch.setenv("LLMKIT_PROFILE", "offline")
    with pytest.raises(BadInputError, match="--gpu, --gpus and --base plan the full profile's models"):
        script.main(["--gpu", "T4", "--base", "meta-llama/Llama-3.1-70B"])
