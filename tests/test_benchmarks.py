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


def test_week7_processes_benchmark_prints_measured_and_planned_rows(capsys):
    assert week7_training.main(["--processes", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "tokens/s per process" in out and "peak MB per process" in out and "max loss gap vs 1 process" in out
    assert "2 x L4 Llama 3.1 70B FSDP + QLoRA" in out and "19.6 GB per GPU" in out  # the plan, and its source
