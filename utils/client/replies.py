"""Paid replies kept: a paid request sent again (the same endpoint, model, messages and settings, at temperature 0 and
not streamed) is answered from the reply it was first paid for, so a run that was stopped (the budget, a lost
connection, a closed tab) continues where it stopped without paying twice. The replies lie in `replies/` beside the
results table, one JSON file each; LLMKIT_FRESH_REPLIES=1 sends every request again."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..paths import spend_file
from ..settings import setting_flag


def folder() -> Path:
    """Where the kept replies lie: beside the results table and the spend file (a Drive path keeps all three)."""
    return spend_file().with_name("replies")


def request_key(base_url: str, kwargs: dict[str, Any]) -> str:
    """A request's identity: its endpoint and every argument it sends."""
    text = json.dumps([base_url, kwargs], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def kept(key: str) -> dict[str, Any] | None:
    """The reply first paid for this request, or None (never paid, or LLMKIT_FRESH_REPLIES is set)."""
    path = folder() / f"{key}.json"
    if setting_flag("LLMKIT_FRESH_REPLIES") or not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # a file cut short by a stopped kernel: send the request again
        return None


def keep(key: str, reply: dict[str, Any]) -> None:
    """Save a paid reply, written whole or not at all (a stopped kernel leaves no half file)."""
    target = folder()
    target.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target, suffix=".part")
    with os.fdopen(fd, "w") as f:
        json.dump(reply, f)
    os.replace(tmp, target / f"{key}.json")
