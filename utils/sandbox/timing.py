"""Timing a program in the sandbox, with the sandbox's own start-up cost measured and taken out."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import BadInputError, LLMKitError
from .compiling import compile_cpp
from .running import run_limited


@dataclass
class Timing:
    """Seconds of repeated runs after a warm-up, the sandbox's start-up cost already taken out."""

    runs: list[float]
    overhead_s: float = 0.0
    overhead_spread_s: float = 0.0  # max - min of the empty runs: how precisely the start-up was taken out

    @property
    def median(self) -> float:
        """Median seconds."""
        return statistics.median(self.runs)

    @property
    def floor_s(self) -> float:
        """The shortest time this timing tells from no program at all (resolution_floor)."""
        return resolution_floor(self.overhead_s, self.overhead_spread_s)

    @property
    def at_resolution(self) -> bool:
        """The median is at the floor: the program ran faster than the sandbox's start-up can be taken out."""
        return self.median <= self.floor_s

    @property
    def spread(self) -> float:
        """Max minus min seconds."""
        return max(self.runs) - min(self.runs)

    def __str__(self) -> str:
        low, high = min(self.runs), max(self.runs)
        return f"{self.median:.4f} s, the median of {len(self.runs)} runs from {low:.4f} to {high:.4f} s"


_EMPTY = "int main() { return 0; }\n"
# The least floor: below it a run's time is lost in the jitter of starting any process.
RESOLUTION_S = 1e-4


def resolution_floor(overhead_s: float, overhead_spread_s: float) -> float:
    """The shortest time a timing can tell from zero once the start-up is taken out: the empty runs' spread, but never
    under a quarter of the start-up (a few empty runs under-estimate one start's jitter: seen 1.8 ms spread, 3.2 ms
    off a 55 ms start-up), nor under RESOLUTION_S. Times are floored here; a speed-up from a floored time is a lower
    bound ("at least")."""
    return max(RESOLUTION_S, overhead_spread_s, overhead_s / 4)


@cache
def _empty_program() -> Path:
    res = compile_cpp(_EMPTY)
    if not res.ok:
        raise LLMKitError(f"Could not compile an empty program: {res.errors}")
    return res.binary  # type: ignore[return-value]


def sandbox_overhead(runs: int = 7) -> float:
    """Median wall seconds to start and stop an empty program in the sandbox (what every timing takes out)."""
    times = []
    for _ in range(runs):
        res = run_limited([str(_empty_program())], timeout_s=10)
        if not res.ok:
            raise LLMKitError(f"The sandbox cannot run an empty program: {res.problem()}")
        times.append(res.seconds)
    return statistics.median(times)


def time_command(
    cmd: list[str], runs: int = 3, warmup: int = 1, timeout_s: float = 120, memory_mb: int = 1024
) -> Timing:
    """Time a command in the sandbox: warm-up runs first, then `runs` measured runs; raises if any run fails."""
    if runs < 1:
        raise BadInputError("runs must be at least 1.")
    raw, empties = [], []
    for i in range(warmup + runs):
        if i >= warmup:  # an empty program right before each run: its start-up cost, under the same load
            empties.append(sandbox_overhead(runs=1))
        res = run_limited(cmd, timeout_s=timeout_s, memory_mb=memory_mb)
        if not res.ok:
            raise LLMKitError(f"Timing stopped: {res.problem()}.")
        if i >= warmup:
            raw.append(res.seconds)
    overhead = statistics.median(empties)  # one empty run is noisy (a few ms on a busy machine); their median is not
    spread = max(empties) - min(empties)
    floor = resolution_floor(overhead, spread)
    return Timing([max(t - overhead, floor) for t in raw], overhead, spread)
