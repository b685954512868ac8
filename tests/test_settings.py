import re
from pathlib import Path

import pytest

from utils import settings
from utils.errors import BadInputError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
INTERNAL = {"LLMKIT_RUN"}  # a marker the sandbox puts in its children's environment, not a setting


def _sources() -> dict[Path, str]:
    files = [*ROOT.glob("utils/**/*.py"), *ROOT.glob("scripts/*"), *ROOT.glob("week*/*.ipynb"), ROOT / "Makefile"]
    return {f: f.read_text() for f in files if f.is_file()}


def test_only_the_settings_module_reads_llmkit_variables():
    reads = re.compile(r"(environ\.get\(|getenv\(|environ\[)\s*f?[\"']LLMKIT_")
    utils = ROOT / "utils"
    modules = [f for f in _sources() if f.suffix == ".py" and utils in f.parents and f.name != "settings.py"]
    assert [str(f.relative_to(ROOT)) for f in modules if reads.search(f.read_text())] == []


def test_every_setting_used_anywhere_is_listed_and_documented():
    page = (ROOT / "docs" / "profiles-and-settings.md").read_text()
    used = set()
    for text in _sources().values():
        used |= set(re.findall(r"LLMKIT_[A-Z_]*[A-Z]", text))
    pattern = re.compile(r"LLMKIT_[A-Z]+_BASE_URL")
    unknown = {n for n in used - INTERNAL if n not in settings.SETTINGS and not pattern.fullmatch(n)}
    assert unknown == set()
    assert settings.markdown_table() in page  # the docs page's table is the module's, row for row


def test_the_profile_rule_the_table_states_is_the_rule_the_kit_applies(monkeypatch):
    from utils.client.keys import key_variables
    from utils.profile import get_profile

    assert "full when any provider key is set, else offline" in settings.SETTINGS["LLMKIT_PROFILE"]
    for var in key_variables():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("LLMKIT_PROFILE", raising=False)
    assert get_profile().name == "offline"
    monkeypatch.setenv("GROQ_API_KEY", "gsk_placeholder")
    monkeypatch.setenv("LLMKIT_HF_MODEL", "a-folder")  # no leaderboard read: the rule alone is under test
    assert get_profile().name == "full"


def test_settings_are_read_when_asked_and_checked(monkeypatch):
    monkeypatch.setenv("LLMKIT_LOCAL_THREADS", " 3 ")
    assert settings.setting_int("LLMKIT_LOCAL_THREADS", 1) == 3
    monkeypatch.setenv("LLMKIT_LOCAL_THREADS", "three")
    with pytest.raises(BadInputError, match="whole number"):
        settings.setting_int("LLMKIT_LOCAL_THREADS", 1)
    monkeypatch.setenv("LLMKIT_CHAT_MODELS", " openai/a, ,groq/b ")
    assert settings.setting_list("LLMKIT_CHAT_MODELS") == ["openai/a", "groq/b"]
    monkeypatch.delenv("LLMKIT_CACHE", raising=False)
    assert settings.setting("LLMKIT_CACHE", "fallback") == "fallback"
    assert settings.base_url_override("groq") == ""
    monkeypatch.setenv("LLMKIT_GROQ_BASE_URL", "http://127.0.0.1:1/v1")
    assert settings.base_url_override("groq") == "http://127.0.0.1:1/v1"
    with pytest.raises(BadInputError, match="not one of the kit's settings"):
        settings.setting("LLMKIT_PROFLIE")
