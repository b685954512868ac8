"""llm-engineering-kit: the shared code every notebook imports."""

import os

# OpenMP threads (torch, llama.cpp) that wait for each other sleep instead of spinning. Measured on 2 cores with one
# other CPU-bound process (benchmarks/README.md): SmolLM2 forward passes 2.8x slower than quiet when spinning, 1.8x
# when passive; no change when quiet. It must be set before torch loads, and the notebooks import utils first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .errors import LLMKitError
from .llm import ChatResult, chat
from .profile import Profile, get_profile, seed_everything, setup

__all__ = ["ChatResult", "LLMKitError", "Profile", "chat", "get_profile", "seed_everything", "setup"]
