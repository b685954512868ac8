"""Throwaway folders (swept when the process that made them is gone) and the budget on what a run writes there."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable

from .limits import Limits

_folders: list[Path] = []

# A folder's name carries the id of the process that made it ("llmkit-cpp-4242-x1y2z3"): a kernel killed outright
# (as nbval and a closed Colab tab do) never runs its exit handler, so the next process sweeps what it left behind.
_STALE = re.compile(r"llmkit-(?:cpp|py|run)-(\d+)-")

_swept = False


def _alive(pid: int) -> bool:
    """Whether a process with this id still runs (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_folders(tmp: Path | None = None) -> list[Path]:
    """Delete this user's throwaway folders whose process has ended; the folders removed."""
    removed = []
    root = Path(tmp or tempfile.gettempdir())
    for entry in root.glob("llmkit-*-*-*"):
        match = _STALE.match(entry.name)
        try:
            mine = entry.is_dir() and not entry.is_symlink() and entry.stat().st_uid == os.getuid()
        except OSError:
            continue
        if match and mine and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            remove_folder(entry)
            removed.append(entry)
    return removed


def new_folder(prefix: str) -> Path:
    """A temporary folder removed when Python exits (or earlier with remove_folder); the first call also sweeps
    folders left by processes that were killed."""
    global _swept
    if not _swept:
        _swept = True
        sweep_stale_folders()
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    _folders.append(path)
    return path


def _unlock(path: str) -> None:
    """Let the kit enter and empty a folder the program locked (chmod 000); it owns it, or is root."""
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass


def _retry_unlocked(_function: Callable, path: str, _error: object) -> None:
    _unlock(os.path.dirname(path))
    _unlock(path)
    shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else Path(path).unlink(missing_ok=True)


def remove_folder(path: Path | None) -> None:
    """Delete a temporary folder now, folders a program made unreadable included."""
    if path is not None and os.path.lexists(path):
        handler = {"onexc" if sys.version_info >= (3, 12) else "onerror": _retry_unlocked}
        shutil.rmtree(path, **handler)  # type: ignore[arg-type]


@atexit.register
def _remove_all() -> None:
    for path in _folders:
        shutil.rmtree(path, ignore_errors=True)


def _disk_use(folders: list[Path]) -> tuple[int, int]:
    """Bytes on disk (allocated blocks: a sparse file counts what it holds) and entries under folders."""
    size = count = 0
    stack = [str(f) for f in folders]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except PermissionError:  # the program locked it (chmod 000): unlock and look again next time
            _unlock(folder)
            continue
        except OSError:
            continue
        for entry in entries:
            count += 1
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            size += getattr(info, "st_blocks", 0) * 512 or info.st_size
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return size, count


CHECK_EVERY_S = 0.01  # how often the write budget is checked; a program writing 3-4 GB/s into the page cache gets
# about 50 MB past the budget between two checks (tests/test_sandbox.py bounds it at twice the budget)


class WriteBudget(threading.Thread):
    """Watches a run's folders every 10 ms and stops the run when it has written more bytes or files than allowed."""

    def __init__(self, folders: list[Path], limits: Limits, stop: Callable[[], None]):
        super().__init__(daemon=True)
        self.folders, self.limits, self.stop = folders, limits, stop
        self.done, self.reason, self.peak_mb = threading.Event(), "", 0.0

    def check(self) -> bool:
        """Measure once; True (and the reason set) when the run is over its budget."""
        size, files = _disk_use(self.folders)
        self.peak_mb = max(self.peak_mb, size / 1024**2)
        if size > self.limits.disk_mb * 1024**2:
            self.reason = f"it wrote more than {self.limits.disk_mb} MB (its folder and its /tmp together)"
        elif files > self.limits.max_files:
            self.reason = f"it created more than {self.limits.max_files:,} files"
        return bool(self.reason)

    def run(self) -> None:
        while not self.done.wait(CHECK_EVERY_S):
            if self.check():
                self.stop()
                return
