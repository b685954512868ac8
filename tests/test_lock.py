"""The lock (constraints.txt): exact versions, with a Python-range marker only where a release needs a newer Python
than some the kit supports, so an older supported Python (Debian 12's 3.11.2) still installs."""

import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import write_lock  # noqa: E402

pytestmark = pytest.mark.unit


def test_a_release_that_needs_a_newer_python_gets_a_marker_and_others_none():
    line = write_lock.pin("soupsieve", "4.1.3", ">=3.11.5")
    assert line == 'soupsieve==4.1.3 ; python_full_version >= "3.11.5"'
    assert not Marker(line.split(";")[1]).evaluate({"python_full_version": "3.11.2"})
    assert Marker(line.split(";")[1]).evaluate({"python_full_version": "3.11.7"})
    assert write_lock.pin("six", "1.17.0", ">=2.7, !=3.0.*") == "six==1.17.0"
    assert write_lock.pin("old", "1.0", None) == "old==1.0"


def test_a_local_build_label_is_not_pinned_so_the_index_release_satisfies_the_lock():
    """torch 2.13.0+cpu (a wheel folder's build) pinned as torch==2.13.0: the package index serves 2.13.0, which a
    pin of 2.13.0+cpu refuses (a student's install failed so), and which this pin, like the +cpu build, satisfies."""
    line = write_lock.pin("torch", "2.13.0+cpu", ">=3.10")
    assert line == "torch==2.13.0"
    assert Requirement(line).specifier.contains("2.13.0") and Requirement(line).specifier.contains("2.13.0+cpu")
    lock = (ROOT / "constraints.txt").read_text()
    assert "+" not in "".join(x.split(";")[0] for x in lock.splitlines() if x and x[0] != "#")  # the lock itself


def test_every_line_of_the_lock_is_an_exact_pin_and_the_lock_holds_on_this_python():
    lines = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line and line[0] != "#"]
    requirements = [Requirement(line) for line in lines]
    assert len(requirements) > 100
    assert all(len(r.specifier) == 1 and next(iter(r.specifier)).operator == "==" for r in requirements)
    assert any(r.marker for r in requirements)  # soupsieve 4.1.3 needs 3.11.5: Debian 12 has 3.11.2
    if sys.version_info >= (3, 11, 5):  # CI's Python: every pin applies, the lock is the set CI passed with
        assert all(r.marker is None or r.marker.evaluate() for r in requirements)
