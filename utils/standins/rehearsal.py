"""The full-profile rehearsal: every full-profile code path run here, with local stand-ins for outside services.

`make rehearse` sets LLMKIT_PROFILE=full and LLMKIT_REHEARSAL=1, points every provider's base URL at the
provider zoo (standins/provider_zoo.py: each provider's rules, played on loopback in front of the kit's local server,
so that `openai/gpt-5-mini` is refused a `max_tokens` as OpenAI refuses it and is answered by SmolLM2), sets a
placeholder key for each provider, reads Amazon data from the test fixture folder, and uses a tiny random-weight
Llama-architecture model (with SmolLM2's real tokenizer) as LLMKIT_HF_MODEL. Stand-ins only exercise the code:
their numbers mean nothing, and the notebooks say so (the banner, and `utils.checks.check`, which names every
model-quality check it does not make).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..client.providers import PROVIDERS
from ..paths import ROOT

FLAG = "LLMKIT_REHEARSAL"
# routing; a reasoning model's parameters and thinking (OpenAI); the no-seed rule (Anthropic); thinking inside the
# limit and week 4's shortlisted Gemini model, which week 5 adds (Gemini); the coder model (OpenRouter)
PROVIDERS_TO_STAND_IN = ("openai", "anthropic", "gemini", "openrouter")
PLACEHOLDER_KEY = "rehearsal-placeholder-not-a-key"
AMAZON_FIXTURE = ROOT / "tests" / "fixtures" / "amazon"


def tiny_llama(vocab_size: int, seed: int = 0, **config: Any) -> Any:
    """A Llama-architecture model built from a config (random weights, 2 layers, nothing downloaded): the one
    builder the rehearsal and the tests share; config overrides the small defaults."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
    }
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, **{**shape, **config}))


def build_tiny_llama(folder: Path) -> Path:
    """The rehearsal's model on disk: a tiny Llama with SmolLM2's real tokenizer (and its BOS token)."""
    from ..tokens import smollm2_tokenizer

    if (folder / "config.json").exists():
        return folder
    tok = smollm2_tokenizer()
    tiny_llama(len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def environment(base_urls: dict[str, str], model_folder: Path) -> dict[str, str]:
    """The variables that turn a run into the rehearsal (every outside service replaced by a local stand-in);
    base_urls: provider -> the stand-in's URL (ProviderZoo.url)."""
    env = {
        "LLMKIT_PROFILE": "full",
        FLAG: "1",
        "LLMKIT_HF_MODEL": str(model_folder),
        "LLMKIT_AMAZON_DIR": str(AMAZON_FIXTURE),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    for provider in PROVIDERS_TO_STAND_IN:
        env[f"LLMKIT_{provider.upper()}_BASE_URL"] = base_urls[provider]
    for provider in PROVIDERS_TO_STAND_IN:  # the first key variable of each: the name a student sets
        env[PROVIDERS[provider].key_vars[0]] = PLACEHOLDER_KEY
    return env
