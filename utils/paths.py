"""Where the kit lives on disk: the repo root, the rebuildable cache, the shared model cache and the results file.

Every location is read from the environment when it is used (not when `utils` is imported), so a value set in
`.env` (loaded by `setup()`) takes effect.
"""

from __future__ import annotations

import os
from pathlib import Path

from .settings import setting

ROOT: Path = Path(__file__).resolve().parent.parent
DATA_DIR: Path = ROOT / "data"


def requirement(package: str) -> str:
    """A package's line in requirements.txt without its comment ('pkg[extra]==1.2'): versions live
    there alone."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        spec = line.split("#")[0].strip()
        if spec.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower() == package.lower():
            return spec
    raise LookupError(f"requirements.txt has no line for {package}")


def cache_root() -> Path:
    """The rebuildable cache: LLMKIT_CACHE, else data/cache in the repo."""
    return Path(setting("LLMKIT_CACHE") or DATA_DIR / "cache")


def cache_dir(*parts: str) -> Path:
    """A folder under the cache (created on first use); safe to delete, the notebooks rebuild it."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_cache_dir(*parts: str) -> Path:
    """Converted model weights, shared between runs and read-only once written: LLMKIT_MODEL_CACHE, else the user's
    cache folder (~/.cache/llm-engineering-kit/models), so a throwaway LLMKIT_CACHE does not convert them again."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llm-engineering-kit" / "models"
    path = Path(setting("LLMKIT_MODEL_CACHE") or default).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_file() -> Path:
    """The approaches table weeks 6 and 7 share: LLMKIT_RESULTS, else results.csv in the cache."""
    return Path(setting("LLMKIT_RESULTS") or cache_root() / "results.csv")


def spend_file() -> Path:
    """Every paid API call of the course, one row each, kept beside the results table (so a Drive path keeps both)."""
    return results_file().with_name("spend.csv")
