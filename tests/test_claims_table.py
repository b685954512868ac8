"""The claims table (`make claims`) counts each claim over the runs, its measured numbers blanked, and lists times."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import claims  # noqa: E402

pytestmark = pytest.mark.unit


def write_run(folder: Path, rows: list[dict], seconds: float) -> Path:
    (folder / "claims").mkdir(parents=True)
    (folder / "claims" / "week7-01_fine_tuning.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "times.json").write_text(json.dumps({"week7/01_fine_tuning.ipynb": {"seconds": seconds, "ok": True}}))
    return folder


def test_a_claim_that_failed_in_one_run_is_named_with_that_run(tmp_path):
    held = {"sentence": "error $139 is below $284", "quality": True, "held": True}
    failed = {"sentence": "error $181 is below $284", "quality": True, "held": False}
    exact = {"sentence": "the adapter reloaded", "quality": False, "held": True}
    text = claims.table(
        {
            "seed-42": write_run(tmp_path / "a", [held, exact], 200.0),
            "seed-7": write_run(tmp_path / "b", [failed, exact], 210.0),
        }
    )
    assert "| week7-01_fine_tuning | model quality | error $# is below $# | 1 of 2 | seed-7 |" in text
    assert "| week7-01_fine_tuning | kit (exact) | the adapter reloaded | 2 of 2 |  |" in text
    assert "2 claims; 1 failed in at least one run." in text
    assert "| week7/01_fine_tuning.ipynb | 200 | 210 |" in text
