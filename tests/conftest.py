"""Shared test set-up: the offline profile and a throwaway cache for the whole session (notebooks included).

Only converted model weights are shared between runs (LLMKIT_MODEL_CACHE, outside the repo): they are written once
and never changed. Everything else a test or a notebook writes goes to a temporary folder, removed at the end.
"""

import os
import shutil
import tempfile

os.environ.setdefault("LLMKIT_PROFILE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
_CACHE = tempfile.mkdtemp(prefix="llmkit-test-cache-")
os.environ["LLMKIT_CACHE"] = _CACHE
os.environ.pop("LLMKIT_RESULTS", None)


def pytest_sessionfinish(session, exitstatus):
    from utils.sandbox import sweep_stale_folders

    shutil.rmtree(_CACHE, ignore_errors=True)
    sweep_stale_folders()  # nbval kills each notebook's kernel outright: its kept binaries are removed here
