"""What one sandboxed run may use, and what it returned."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one run may use; everything beyond is stopped and named in the result."""

    wall_s: float = 30.0
    memory_mb: int = 1024
    processes: int = 32  # processes and threads the program may start
    file_mb: int = 64  # the largest file it may write, its output included
    open_files: int = 64
    output_kb: int = 1024  # how much of stdout/stderr is read back
    disk_mb: int = 256  # everything it writes, its folder and its /tmp together
    max_files: int = 4096  # files and folders it may create there

    @property
    def cpu_s(self) -> int:
        """CPU seconds: the wall limit rounded up, plus one."""
        return math.ceil(self.wall_s) + 1


@dataclass
class RunResult:
    """What a program printed, how it ended, how long it took, and which limit stopped it (if any)."""

    stdout: str
    stderr: str
    returncode: int | None
    seconds: float
    timed_out: bool = False
    out_of_memory: bool = False
    stopped_by: str = ""  # the limit that stopped it, in words ("" when none did)
    wrote_mb: float = 0.0  # the most its folder and its /tmp held at one check (MB on disk)

    @property
    def ok(self) -> bool:
        """Exited with 0 inside its limits."""
        return self.returncode == 0 and not self.timed_out and not self.out_of_memory and not self.stopped_by

    def problem(self) -> str:
        """One sentence on why the run failed ('' when it did not)."""
        if self.timed_out:
            return f"it ran past its {self.seconds:.1f}s time limit and was stopped"
        if self.out_of_memory:
            return "it tried to use more memory than its limit"
        if self.stopped_by:
            return f"it was stopped: {self.stopped_by}"
        if self.returncode != 0:
            tail = (self.stderr.strip().splitlines() or [""])[-1][:300]
            return f"it exited with code {self.returncode}: {tail}"
        return ""
