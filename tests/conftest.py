"""Shared test set-up: the offline profile and a throwaway cache for the whole session (notebooks included).

Only converted model weights are shared between runs (LLMKIT_MODEL_CACHE, outside the repo): they are written once
and never changed. Everything else a test or a notebook writes goes to a temporary folder, removed at the end.
The helpers more than one test file needs are fixtures here: `write_notebook`, `tiny_llama`, `zoo` and `at_zoo`.

Every test belongs to exactly one tier (a pytest marker, listed in pyproject.toml), so a contributor can run a part:
`make test-fast` runs `unit`; `make test` runs every tier; `pytest -m "server or sandbox"` runs those two. A test
file of one tier names it in `pytestmark`; a file of several marks each test. nbval's notebook items are `notebooks`.
"""

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("LLMKIT_PROFILE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
_CACHE = tempfile.mkdtemp(prefix="llmkit-test-cache-")
os.environ["LLMKIT_CACHE"] = _CACHE
os.environ.pop("LLMKIT_RESULTS", None)


TIERS = ("unit", "training", "server", "sandbox", "browser", "notebooks", "rehearsal")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test has exactly one tier (its own marker or its file's); none or two is an error naming the test."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)
        tiers = {m.name for m in item.iter_markers() if m.name in TIERS}
        if len(tiers) != 1:
            found = ", ".join(sorted(tiers)) or "none"
            raise pytest.UsageError(f"{item.nodeid} needs exactly one tier of {', '.join(TIERS)}; it has {found}")


def pytest_sessionfinish(session, exitstatus):
    from utils.sandbox import sweep_stale_folders

    shutil.rmtree(_CACHE, ignore_errors=True)
    sweep_stale_folders()  # nbval kills each notebook's kernel outright: its kept binaries are removed here


@pytest.fixture(scope="session")
def write_notebook() -> Callable[..., Path]:
    """write_notebook(path, *cells): a notebook of code cells with a python3 kernelspec, written to path."""
    import nbformat

    def write(path: Path, *cells: str) -> Path:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, path)
        return path

    return write


@pytest.fixture(scope="session")
def tiny_llama() -> Callable[..., object]:
    """tiny_llama(vocab_size, **config): a Llama smaller than the rehearsal's, trained in seconds."""
    from utils.standins.rehearsal import tiny_llama as build

    shape = {"hidden_size": 32, "intermediate_size": 64, "num_key_value_heads": 4, "max_position_embeddings": 256}
    return lambda vocab_size, **config: build(vocab_size, **{**shape, **config})


@pytest.fixture(scope="module")
def zoo():
    """The provider zoo in front of the kit's real local model server, one per test module."""
    from utils.client.local_server import running_server
    from utils.standins.provider_zoo import ProviderZoo

    server = running_server("smollm2")
    with ProviderZoo(server.base_url, server.served_model) as zoo:
        yield zoo


@pytest.fixture
def at_zoo(zoo, monkeypatch):
    """Every provider's base URL at the zoo, a placeholder key for each, a fresh request log, and every request sent
    (LLMKIT_FRESH_REPLIES=1: a test that repeats a request means it to reach the zoo; kept-reply tests unset it)."""
    from utils.client.providers import PROVIDERS

    keys = {var: "placeholder-zoo-key" for p in PROVIDERS.values() for var in p.key_vars[:1]}
    for var, value in {**zoo.environment(), **keys, "LLMKIT_FRESH_REPLIES": "1"}.items():
        monkeypatch.setenv(var, value)
    zoo.requests.clear()
    return zoo
