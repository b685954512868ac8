"""llm-engineering-kit: the shared code every notebook imports."""

import logging
import os

# OpenMP threads (torch, llama.cpp) that wait sleep instead of spinning (benchmarks/README.md); set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# bitsandbytes, on a CPU with AVX-512 BF16, looks for a faster 4-bit kernel on the Hugging Face Hub (the `kernels`
# package, which the kit never installs) and logs a warning whenever it is imported; its own CPU kernel is used.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
# A notebook executed without a browser (scripts/run_notebooks.py) keeps no live widget: a progress widget is saved as
# its first frame ("0%"). There, progress bars are text, so the executed copy shows each bar's final count; set before
# transformers binds its Trainer's bar.
from .settings import setting_flag  # noqa: E402 (reads the environment only)

if setting_flag("LLMKIT_TEXT_PROGRESS"):
    import tqdm.auto
    import tqdm.std

    tqdm.auto.tqdm = tqdm.std.tqdm

from .client.llm import ChatResult, chat  # noqa: E402
from .errors import LLMKitError  # noqa: E402 (after the two settings above, which must come first)
from .profile import Profile, get_profile, seed_everything, setup  # noqa: E402

__all__ = ["ChatResult", "LLMKitError", "Profile", "chat", "get_profile", "seed_everything", "setup"]
