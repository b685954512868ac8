"""The benchmarks run and print their tables in CI-sized mode (no timing is asserted: they are measurements)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import week7_training  # noqa: E402

pytestmark = pytest.mark.training


def test_week7_shapes_benchmark_prints_its_table(capsys):
    assert week7_training.main(["--shapes", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "SmolLM2-135M" in out and "tokens/s" in out and "hours/epoch" in out and "device:" in out
