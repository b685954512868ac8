"""The main job survives a failing cell and a dead kernel, and still writes its summary."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import run_notebooks  # noqa: E402

pytestmark = pytest.mark.notebooks


def test_failures_and_dead_kernels_are_rows_not_crashes(write_notebook, tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # main() unsets it for its kernels; put it back for the other tests
    good = write_notebook(tmp_path / "a_good.ipynb", "import time; time.sleep(0.3)", "x = 1")
    dies = write_notebook(tmp_path / "b_dies.ipynb", "import os; os._exit(1)")
    fails = write_notebook(tmp_path / "c_fails.ipynb", "assert 1 == 2, 'the claim is false'")
    after = write_notebook(tmp_path / "d_after.ipynb", "print('still running')")
    code = run_notebooks.main(["--out", str(tmp_path / "build"), *map(str, (good, dies, fails, after))])
    summary = (tmp_path / "build" / "SUMMARY.md").read_text()
    assert code == 1 and "| a_good.ipynb |" in summary and "| d_after.ipynb |" in summary
    assert "b_dies.ipynb | " in summary and "DeadKernelError" in summary
    assert "c_fails.ipynb" in summary and "the claim is false" in summary
    assert "2/4 ok" in summary and "## Slowest cells" in summary
    assert (tmp_path / "build" / "d_after.ipynb").exists()
    assert "without encryption" not in capfd.readouterr().err


def test_sigterm_stops_the_job_its_kernel_and_the_kernels_server(write_notebook, tmp_path):
    """`kill PID` ends the main job: no next notebook, the kernel gone and with it a server started through
    utils/client/serve_child.py (as the local model server is), and SUMMARY.md written with the row that was running."""
    pid_file = tmp_path / "server.pid"
    launcher = Path(run_notebooks.ROOT / "utils" / "client" / "serve_child.py")
    start_server = (
        "import os, subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, {str(launcher)!r}, str(os.getpid()), 'http.server', '0',"
        " '--bind', '127.0.0.1'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(120)"
    )
    first = write_notebook(tmp_path / "a_long.ipynb", start_server)
    second = write_notebook(tmp_path / "b_next.ipynb", "print('should not run')")
    script = run_notebooks.ROOT / "scripts" / "run_notebooks.py"
    job = subprocess.Popen(
        [sys.executable, str(script), "--out", str(tmp_path / "build"), str(first), str(second)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and job.poll() is None, "the notebook never started its server"
        time.sleep(0.2)
    server_pid = int(pid_file.read_text())
    job.send_signal(signal.SIGTERM)
    out, _ = job.communicate(timeout=30)
    assert job.returncode == 128 + signal.SIGTERM, out
    summary = (tmp_path / "build" / "SUMMARY.md").read_text()
    assert "| a_long.ipynb |" in summary and "stopped by the user" in summary and "b_next" not in summary
    deadline = time.monotonic() + 10
    while _alive(server_pid):
        assert time.monotonic() < deadline, "the kernel's server outlived the stopped job"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_figures_are_saved_and_a_plot_that_shows_nothing_fails_its_notebook(write_notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # as the tests have it: main() must unset it for its kernels
    drawn = write_notebook(tmp_path / "a_drawn.ipynb", "import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])")
    blank = write_notebook(
        tmp_path / "b_blank.ipynb",
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt",
        "# plt.plot() in a comment is not a plot\nx = 1",
        "plt.plot([1, 2], [3, 4]); plt.show()",  # Agg: draws nothing, says nothing
    )
    code = run_notebooks.main(["--out", str(tmp_path / "build"), str(drawn), str(blank)])
    summary = (tmp_path / "build" / "SUMMARY.md").read_text()
    assert code == 1 and "| a_drawn.ipynb |" in summary and "plotting cells [2] show no figure" in summary
    pngs = sorted(p.name for p in (tmp_path / "build" / "figures").glob("*.png"))
    assert pngs == ["a_drawn-cell0-0.png"]
    assert (tmp_path / "build" / "figures" / pngs[0]).read_bytes()[:4] == b"\x89PNG"


def test_one_sigterm_ends_a_cell_that_ignores_its_interrupt(write_notebook, tmp_path):
    """A cell stuck where the interrupt cannot reach it (or a kernel that stopped answering, as ipykernel 7 can):
    after STOP_GRACE_S the kernel is killed, the job ends, and the executed copy keeps the cells that ran."""
    started = tmp_path / "started"
    stuck = write_notebook(
        tmp_path / "a_stuck.ipynb",
        "print('first cell ran')",
        f"import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); open({str(started)!r}, 'w').close()\n"
        "time.sleep(300)",
    )
    script = run_notebooks.ROOT / "scripts" / "run_notebooks.py"
    command = [sys.executable, str(script), "--out", str(tmp_path / "build"), str(stuck)]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while not started.exists():
        assert time.monotonic() < deadline and job.poll() is None, "the stuck cell never started"
        time.sleep(0.2)
    job.send_signal(signal.SIGTERM)  # once: no second signal
    out, _ = job.communicate(timeout=run_notebooks.STOP_GRACE_S + 30)
    assert job.returncode == 128 + signal.SIGTERM, out
    assert "stopped by the user" in (tmp_path / "build" / "SUMMARY.md").read_text()
    kept = nbformat.read(tmp_path / "build" / "a_stuck.ipynb", as_version=4)
    assert "first cell ran" in kept.cells[0].outputs[0]["text"]


def test_progress_bars_are_saved_with_their_final_count(write_notebook, tmp_path, monkeypatch):
    """A bar drawn as a widget would be saved as its first frame ('0/5'): the executed copy holds text, last frame."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for name in ("LLMKIT_TEXT_PROGRESS", "TQDM_MININTERVAL"):  # main() sets them: restored after this test
        monkeypatch.setenv(name, "")
    bar = write_notebook(
        tmp_path / "bar.ipynb",
        "import utils\nfrom tqdm.auto import tqdm\nfor _ in tqdm(range(5), desc='work'):\n    pass",
    )
    assert run_notebooks.main(["--out", str(tmp_path / "build"), str(bar)]) == 0
    outputs = nbformat.read(tmp_path / "build" / "bar.ipynb", as_version=4).cells[0].outputs
    assert [o.output_type for o in outputs] == ["stream"]  # no widget
    assert outputs[0].text.startswith("work: 100%") and "5/5" in outputs[0].text and "0/5" not in outputs[0].text
