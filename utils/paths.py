"""Where the kit lives on disk: the repo root, the rebuildable cache and the shared results file."""
from __future__ import annotations

import os
from pathlib import Path

ROOT: Path = Path(__file__).resolve().parent.parent
DATA_DIR: Path = ROOT / "data"
CACHE_DIR: Path = Path(os.environ.get("LLMKIT_CACHE", DATA_DIR / "cache"))
RESULTS_FILE: Path = Path(os.environ.get("LLMKIT_RESULTS", CACHE_DIR / "results.csv"))


def cache_dir(*parts: str) -> Path:
    """A folder under the cache (created on first use); safe to delete, the notebooks rebuild it."""
    path = CACHE_DIR.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
