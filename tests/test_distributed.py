"""Week 7 rehearsed on 2 CPU processes (gloo): what data parallelism promises, shown on a tiny Llama. The same
global batch on 2 processes takes the same steps as on 1; each process trains on its own shard; one adapter."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from safetensors.torch import load_file

from utils.distributed import launch_command
from utils.errors import BadInputError

pytestmark = pytest.mark.training

SCRIPT = """
import sys
from utils.distributed import train_data_parallel
from utils.training import FineTuneConfig
from utils.prices import Item

kettles = [(c, s) for c in ("red", "blue", "steel", "white") for s in ("1", "1.5", "2", "3")]
items = [Item(f"t{i}", f"A {c} kettle with a {s} litre tank.", 20.0 + 7 * i, "s") for i, (c, s) in enumerate(kettles)]
config = FineTuneConfig(r=4, alpha=8, dropout=0.0, learning_rate=5e-3, max_steps=4, logging_steps=1,
                        save_steps=1000, warmup_steps=0, run_name="ddp")


def train(model_folder, out):
    train_data_parallel(model_folder, items, config, 8, out)


if __name__ == "__main__":
    train(sys.argv[1], sys.argv[2])
"""
GLOBAL_BATCH, STEPS = 8, 4
# The same training launched the way a Kaggle or Colab notebook launches it: Accelerate's notebook_launcher forks the
# calling process (here a fresh interpreter standing in for a fresh kernel, which imports only utils.launch) into 2
# processes, each importing the training function (the script above, as a module) after the fork.
FROM_A_NOTEBOOK = """
import sys
from utils.launch import launch_in_notebook

launch_in_notebook(2, sys.argv[3] + ":train", sys.argv[1], sys.argv[2])
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same training launched as 1 process and as 2 (torchrun on 127.0.0.1), each in its own cache."""
    from utils.standins.rehearsal import build_tiny_llama

    root = tmp_path_factory.mktemp("ddp")
    model = build_tiny_llama(root / "tiny")
    script = root / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    out = {}
    for n in (1, 2):
        env = {**os.environ, "LLMKIT_CACHE": str(root / f"cache{n}"), "TQDM_DISABLE": "1"}
        proc = subprocess.run(
            launch_command(script, n, str(model), str(root / f"out{n}")),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[n] = root / f"out{n}"
    launcher = root / "from_a_notebook.py"
    launcher.write_text(textwrap.dedent(FROM_A_NOTEBOOK))
    env = {**os.environ, "LLMKIT_CACHE": str(root / "cache-nb"), "TQDM_DISABLE": "1"}
    proc = subprocess.run(
        [sys.executable, str(launcher), str(model), str(root / "out-nb"), str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out["notebook"] = root / "out-nb"
    return out


def seen(folder: Path, rank: int) -> list[int]:
    return json.loads((folder / f"rank{rank}.json").read_text())["seen"]


def test_two_processes_take_the_steps_one_process_takes(runs):
    one, two = (json.loads((runs[n] / "losses.json").read_text()) for n in (1, 2))
    assert (one["world"], two["world"]) == (1, 2) and len(one["losses"]) == len(two["losses"]) == STEPS
    # gradients averaged over the two shards are the whole batch's gradient: equal to float rounding (1e-5)
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-5)
    assert one["losses"][-1] < one["losses"][0]  # and the steps learned something
    adapters = [load_file(runs[n] / "adapter" / "adapter_model.safetensors") for n in (1, 2)]
    for name, weight in adapters[0].items():
        assert adapters[1][name].sub(weight).abs().max() < 1e-4, name


def test_the_notebook_launcher_trains_as_torchrun_does(runs):
    """Launched from a notebook (notebook_launcher) or a script (torchrun): the same 2 processes, the same steps."""
    by_script, by_notebook = (json.loads((runs[n] / "losses.json").read_text()) for n in (2, "notebook"))
    assert by_notebook["world"] == 2 and by_notebook["losses"] == pytest.approx(by_script["losses"], rel=1e-5)
    assert seen(runs["notebook"], 0) == seen(runs[2], 0) and seen(runs["notebook"], 1) == seen(runs[2], 1)
    assert [p.parent.name for p in runs["notebook"].rglob("adapter_config.json")] == ["adapter"]


def test_the_notebook_launcher_refuses_in_a_sentence_where_it_cannot_fork():
    """Once the kit's training code is imported, bitsandbytes is loaded: the launcher would raise from inside
    Accelerate; the kit says why in a sentence."""
    code = (
        "import utils.training\nfrom utils.launch import launch_in_notebook\nfrom utils.errors import LLMKitError\n"
        "try:\n    launch_in_notebook(2, 'builtins:print')\nexcept LLMKitError as err:\n    print(err)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "refuses to once bitsandbytes is loaded" in done.stdout, done.stderr[-2000:]


def test_each_process_trains_on_its_own_shard_of_each_batch(runs):
    alone, first, second = seen(runs[1], 0), seen(runs[2], 0), seen(runs[2], 1)
    half = GLOBAL_BATCH // 2
    assert len(first) == len(second) == STEPS * half
    for step in range(STEPS):
        a, b = first[step * half : (step + 1) * half], second[step * half : (step + 1) * half]
        assert not set(a) & set(b)  # no item twice in one step
        assert sorted(a + b) == sorted(alone[step * GLOBAL_BATCH : (step + 1) * GLOBAL_BATCH])  # one step's batch


def test_only_one_adapter_is_saved(runs):
    assert [p.parent.name for p in runs[2].rglob("adapter_config.json")] == ["adapter"]
    assert sorted(p.name for p in runs[2].iterdir()) == ["adapter", "losses.json", "rank0.json", "rank1.json"]


def test_what_cannot_run_is_one_sentence(tmp_path, monkeypatch):
    from utils.distributed import train_data_parallel
    from utils.training import FineTuneConfig

    with pytest.raises(BadInputError, match="at least 1"):
        launch_command("train.py", 0)
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(BadInputError, match=r"global batch \(8\) must split evenly over 3 processes"):
        train_data_parallel(tmp_path, [], FineTuneConfig(), 8, tmp_path)


def test_fsdp_wraps_the_kit_s_qlora_model_on_a_cpu_and_its_adapter_is_saved(tmp_path, monkeypatch):
    """FSDP + QLoRA rehearsed in this process with torch's FSDP on a one-process gloo group (Accelerate sets FSDP up
    on GPUs only): the base loaded with the kit's arguments for an FSDP plan, given LoRA by the kit, wrapped by peft's
    auto-wrap policy, trains, and the adapter written from its full state dict reloads with the trained weights. FSDP
    refuses integer tensors (4-bit weights stored as bitsandbytes' uint8) and units of two dtypes (k-bit
    preparation's float32 norms beside bfloat16 weights); peft alone would save an empty adapter."""
    import torch
    import torch.distributed as dist
    from peft import PeftModel
    from peft.utils.other import fsdp_auto_wrap_policy
    from torch.distributed.fsdp import FullyShardedDataParallel, StateDictType

    from utils import training as ft
    from utils.client.local_server import free_port
    from utils.distributed import write_adapter
    from utils.standins.rehearsal import build_tiny_llama

    monkeypatch.setenv("LLMKIT_HF_MODEL", str(build_tiny_llama(tmp_path / "tiny")))
    config = ft.FineTuneConfig(
        base="llama-3.1-70b",
        r=4,
        alpha=8,
        quantize_4bit=True,
        gradient_checkpointing=True,
        compute_dtype="bfloat16",
        fsdp=True,
    ).validate()
    tok, base = ft.load_base(config)
    model = ft.lora_model(base, config)
    assert any(getattr(m, "gradient_checkpointing", False) for m in model.modules())  # as the FSDP plan trains
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1)
    try:
        wrapped = FullyShardedDataParallel(
            model, auto_wrap_policy=fsdp_auto_wrap_policy(model), use_orig_params=False, device_id=torch.device("cpu")
        )
        optimiser = torch.optim.AdamW([p for p in wrapped.parameters() if p.requires_grad], lr=1e-2)
        batch = tok(["A red kettle with a 2 litre tank.", "A steel kettle."], return_tensors="pt", padding=True)
        for _ in range(2):
            wrapped(**batch, labels=batch["input_ids"]).loss.backward()
            optimiser.step()
            optimiser.zero_grad()
        with FullyShardedDataParallel.state_dict_type(wrapped, StateDictType.FULL_STATE_DICT):
            state = wrapped.state_dict()
    finally:
        dist.destroy_process_group()
    trained = {key: w for key, w in state.items() if "lora_B" in key}
    assert trained and all(w.abs().max() > 0 for w in trained.values())  # B starts at zero: it trained
    _, fresh = ft.load_base(config)
    reloaded = PeftModel.from_pretrained(fresh, write_adapter(model, state, tmp_path / "adapter"))
    lora = {key: w for key, w in reloaded.state_dict().items() if "lora_" in key}
    assert lora.keys() == {key for key in state if "lora_" in key}
    assert all(torch.equal(weight, state[key]) for key, weight in lora.items())


def test_the_script_merges_the_saved_adapter_into_its_base(tmp_path):
    """--merge (one GPU or DDP): the adapter rank 0 saved, merged into its base, gives the adapted model's logits."""
    import runpy

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from utils.standins.rehearsal import build_tiny_llama

    merge = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "train_week7.py"))["merge"]
    folder = build_tiny_llama(tmp_path / "tiny")
    lora = LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False)  # not a no-op adapter
    adapted = get_peft_model(AutoModelForCausalLM.from_pretrained(folder), lora).eval()
    adapted.save_pretrained(tmp_path / "adapter")
    merged = AutoModelForCausalLM.from_pretrained(merge(tmp_path / "adapter", AutoTokenizer.from_pretrained(folder)))
    ids = torch.tensor([[1, 5, 9, 14]])
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(folder)(ids).logits
        assert torch.allclose(merged(ids).logits, adapted(ids).logits, atol=1e-4)
        assert not torch.allclose(base, adapted(ids).logits, atol=1e-4)
