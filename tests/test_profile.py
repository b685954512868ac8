import os

import pytest

from utils import profile as prof
from utils.errors import BadInputError


@pytest.fixture
def clean_env(monkeypatch):
    for var in prof.KEY_VARIABLES + ("LLMKIT_PROFILE",):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_no_key_means_offline(clean_env):
    p = prof.get_profile()
    assert p.offline and p.chat_models == ["local/smollm2"] and "no API key" in p.reason


def test_a_key_means_full_and_is_never_shown(clean_env):
    clean_env.setenv("OPENAI_API_KEY", "sk-test-secret-value")
    p = prof.get_profile()
    assert p.name == "full" and "openai/gpt-4o-mini" in p.chat_models and p.code_models == p.chat_models
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
    assert "profile: OFFLINE" in capsys.readouterr().out


def test_sizes_are_defined_for_both_profiles():
    assert prof.SIZES["offline"].keys() == prof.SIZES["full"].keys()
    assert all(prof.SIZES["offline"][k] <= prof.SIZES["full"][k] for k in prof.SIZES["offline"])


def test_openrouter_adds_an_open_coder_model_for_week5(clean_env):
    clean_env.setenv("OPENROUTER_API_KEY", "sk-or-x")
    p = prof.get_profile()
    assert prof.FULL_CODER_MODEL in p.code_models and prof.FULL_CODER_MODEL not in p.chat_models
