import re
from pathlib import Path

import pytest

from utils import settings
from utils.errors import BadInputError

ROOT = Path(__file__).resolve().parent.parent
INTERNAL = {"LLMKIT_RUN"}  # a marker the sandbox puts in its children's environment, not a setting


def _sources() -> dict[Path, str]:
    files = [*ROOT.glob("utils/*.py"), *ROOT.glob("scripts/*"), *ROOT.glob("week*/*.ipynb"), ROOT / "Makefile"]
    return {f: f.read_text() for f in files if f.is_file()}


def test_only_the_settings_module_reads_llmkit_variables():
    reads = re.compile(r"(environ\.get\(|getenv\(|environ\[)\s*f?[\"']LLMKIT_")
    modules = [f for f in _sources() if f.suffix == ".py" and f.parent.name == "utils" and f.name != "settings.py"]
    assert [f.name for f in modules if reads.search(f.read_text())] == []


def test_every_setting_used_anywhere_is_listed_and_documented():
    readme = (ROOT / "README.md").read_text()
    used = set()
    for text in _sources().values():
        used |= set(re.findall(r"LLMKIT_[A-Z_]*[A-Z]", text))
    pattern = re.compile(r"LLMKIT_[A-Z]+_BASE_URL")
    unknown = {n for n in used - INTERNAL if n not in settings.SETTINGS and not pattern.fullmatch(n)}
    assert unknown == set()
    assert [name for name in settings.SETTINGS if f"`{name}`" not in readme] == []


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
