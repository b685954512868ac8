"""API keys: which variables hold them, reading one, loading .env and Colab secrets, hiding keys in messages."""

from __future__ import annotations

import os
import re
import sys

from ..errors import MissingKeyError
from ..paths import ROOT
from .providers import PROVIDERS


def key_variables() -> list[str]:
    """Every variable that holds a provider's key (and HF_TOKEN for gated Hugging Face models)."""
    return [var for p in PROVIDERS.values() for var in p.key_vars] + ["HF_TOKEN"]


def api_key(provider: str) -> str:
    """The provider's key from the environment; MissingKeyError names the variable (the value is never shown)."""
    spec = PROVIDERS[provider]
    if not spec.key_vars:
        return "not-needed"
    for var in spec.key_vars:
        if os.environ.get(var):
            return os.environ[var]
    raise MissingKeyError(
        f"No key for {provider}: set {' or '.join(spec.key_vars)} in your environment, in .env, or as a Colab secret."
    )


def has_key(provider: str) -> bool:
    """Whether one of the provider's key variables is set (the value is never read here)."""
    return any(os.environ.get(v) for v in PROVIDERS[provider].key_vars)


_SECRET = re.compile(r"(sk-[A-Za-z0-9_\-*]{4,}|hf_[A-Za-z0-9]{4,}|AIza[0-9A-Za-z_\-]{10,}|gsk_[A-Za-z0-9]{4,})")


def redact(text: str) -> str:
    """Hide anything that looks like a key in a message before it is shown."""
    return _SECRET.sub("[redacted]", str(text))


def load_secrets(env_file: str | os.PathLike | None = None) -> list[str]:
    """Load keys and settings from .env (python-dotenv) and Colab secrets into the environment; return the sources."""
    sources = []
    try:
        from dotenv import load_dotenv

        if load_dotenv(env_file or ROOT / ".env", override=False):
            sources.append(".env")
    except ImportError:  # python-dotenv is in requirements.txt; a bare interpreter still works
        pass
    if "google.colab" in sys.modules:
        try:
            from google.colab import userdata  # type: ignore[import-not-found]

            for var in [*key_variables(), "LLMKIT_BUDGET_USD"]:  # the budget may be a secret too
                if var not in os.environ:
                    try:
                        value = userdata.get(var)
                    except Exception:  # secret not defined or not shared with this notebook
                        continue
                    if value:
                        os.environ[var] = value
                        sources.append(f"Colab secret {var}")
        except ImportError:
            pass
    return sources


def keys_present() -> list[str]:
    """Names (never values) of the key variables that are set."""
    return [var for var in key_variables() if os.environ.get(var)]
