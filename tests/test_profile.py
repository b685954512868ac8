import dataclasses
import os
from pathlib import Path

import pytest

from utils import profile as prof
from utils import scoreboard as results
from utils.client import endpoints, keys, providers
from utils.errors import BadInputError

pytestmark = pytest.mark.unit


@pytest.fixture
def clean_env(monkeypatch):
    for var in [*keys.key_variables(), "LLMKIT_PROFILE", "LLMKIT_CHAT_MODELS", "LLMKIT_CODE_MODEL"]:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_no_key_means_offline(clean_env):
    p = prof.get_profile()
    assert p.offline and p.chat_models == ["local/smollm2"] and "no API key" in p.reason


def test_a_key_means_full_and_is_never_shown(clean_env):
    clean_env.setenv("OPENAI_API_KEY", "sk-test-secret-value")
    p = prof.get_profile()
    assert p.name == "full" and p.chat_models == ["openai/gpt-5-mini"] and p.code_models == p.chat_models
    text = prof.banner(p) + p.reason
    assert "OPENAI_API_KEY" in text and "sk-test-secret" not in text


def test_env_variable_wins_over_detection(clean_env):
    clean_env.setenv("OPENAI_API_KEY", "sk-whatever")
    clean_env.setenv("LLMKIT_PROFILE", "offline")
    assert prof.get_profile().offline


def test_bad_profile_name_is_a_clear_error(clean_env):
    clean_env.setenv("LLMKIT_PROFILE", "turbo")
    with pytest.raises(BadInputError, match="offline, full"):
        prof.get_profile()


def test_setup_goes_offline_and_prints_banner(clean_env, capsys):
    clean_env.delenv("HF_HUB_OFFLINE", raising=False)
    p = prof.setup()
    assert p.offline and os.environ["HF_HUB_OFFLINE"] == "1"
    out = capsys.readouterr().out
    assert "profile: OFFLINE" in out and f"local model : {prof.OFFLINE_MODEL_LABEL}" in out
    assert p.hf_model is None  # the packaged model: a model id, never a label matched by its first letters


def test_sizes_are_defined_for_both_profiles():
    offline, full = (dataclasses.asdict(prof.SIZES[name]) for name in ("offline", "full"))
    assert offline.keys() == full.keys() and all(offline[k] <= full[k] for k in offline)


def test_openrouter_adds_an_open_coder_model_for_week5(clean_env):
    clean_env.setenv("OPENROUTER_API_KEY", "sk-or-x")
    p = prof.get_profile()
    coder = providers.DEFAULT_CODE_MODEL
    assert coder in p.code_models and coder not in p.chat_models


def test_settings_in_dot_env_take_effect(clean_env, tmp_path):
    from utils import paths

    for var in (
        "LLMKIT_CACHE",
        "LLMKIT_HF_MODEL",
        "OLLAMA_BASE_URL",
        "LLMKIT_RESULTS",
        "LLMKIT_OPENAI_BASE_URL",
        "LLMKIT_PROFILE",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "TOKENIZERS_PARALLELISM",
    ):
        clean_env.setenv(var, "x")  # recorded, so that what .env sets is undone after the test
        clean_env.delenv(var)
    env = tmp_path / ".env"
    env.write_text(
        f"LLMKIT_CACHE={tmp_path / 'cache'}\nLLMKIT_HF_MODEL={tmp_path / 'my-model'}\n"
        "OLLAMA_BASE_URL=http://127.0.0.1:9/v1\nLLMKIT_OPENAI_BASE_URL=http://127.0.0.1:8/v1\n"
        "LLMKIT_PROFILE=full\n"
    )
    p = prof.setup(quiet=True, env_file=env)  # no key: the full profile falls back to the local model
    assert p.name == "full" and p.hf_model == str(tmp_path / "my-model")
    assert paths.cache_dir("x") == tmp_path / "cache" / "x" and results.approaches_file().parent == tmp_path / "cache"
    assert endpoints.base_url("ollama") == "http://127.0.0.1:9/v1"
    assert endpoints.base_url("openai") == "http://127.0.0.1:8/v1"


def test_the_tests_cache_is_a_throwaway_outside_the_repo():
    from utils.paths import ROOT, cache_dir, cache_root, model_cache_dir

    assert not cache_root().is_relative_to(ROOT) and cache_root().name.startswith("llmkit-test-cache")
    assert cache_dir("logs").is_relative_to(cache_root()) and not model_cache_dir().is_relative_to(ROOT)


def test_import_utils_finds_this_checkout_from_any_folder(tmp_path):
    # The import name is the folder's (utils/): Colab's first cell puts the clone on sys.path of a kernel that is
    # already running, where an editable install's import hook for another name is not active until a restart.
    # The cost of the plain name is that another `utils` earlier on the path would win; this fails if one does.
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", "import utils; print(utils.__file__)"], cwd=tmp_path, capture_output=True, text=True
    )
    here = Path(__file__).resolve().parent.parent / "utils" / "__init__.py"
    assert out.returncode == 0 and Path(out.stdout.strip()).resolve() == here, out.stdout + out.stderr
