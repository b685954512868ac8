"""The main job: execute every notebook on the current profile; write the executed copies and a summary to build/.

A failing cell or a kernel that dies is one failed row with its reason: the job goes on to the next notebook, still
writes build/SUMMARY.md (with the slowest cells of each notebook) and exits non-zero. Stopping the job (Ctrl-C, or
SIGTERM from `kill`) ends it: the running kernel and its model server stop, and SUMMARY.md holds the rows done so far.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def cell_seconds(cell: dict) -> float | None:
    """How long a cell ran, from the timing nbclient records in its metadata."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return None
    parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def slowest_cells(nb: nbformat.NotebookNode, n: int = 3) -> list[tuple[int, float, str]]:
    """(cell number, seconds, first line) of the n slowest code cells."""
    rows = []
    for i, cell in enumerate(nb.cells):
        seconds = cell_seconds(cell) if cell.cell_type == "code" else None
        if seconds is not None:
            first = next((line for line in cell.source.splitlines() if line.strip()), "")[:60]
            rows.append((i, seconds, first))
    return sorted(rows, key=lambda r: -r[1])[:n]


# A cell that calls one of these draws a figure: the executed copy must show it.
PLOTTING = re.compile(r"\bplt\.|\.plot\(|\bplot_\w*\(|\.(?:hist|scatter|barh?|imshow)\(")


def save_figures(nb: nbformat.NotebookNode, folder: Path, stem: str) -> tuple[int, list[int]]:
    """Write every PNG the notebook shows to folder/stem-cellN-K.png; return how many, and the plotting cells
    (numbered as in the notebook) that show none."""
    count, blank = 0, []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        images = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        for k, png in enumerate(images):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{stem}-cell{i}-{k}.png").write_bytes(base64.b64decode(png))
        count += len(images)
        code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("#"))
        if PLOTTING.search(code) and not images:
            blank.append(i)
    return count, blank


def final_frames(nb: nbformat.NotebookNode) -> None:
    """Each cell's consecutive stream outputs merged and their carriage returns applied, as a terminal would show
    them (nbconvert's CoalesceStreamsPreprocessor): a text progress bar is saved as its last frame, its final count."""
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    CoalesceStreamsPreprocessor().preprocess(nb, {})


def relative(path: Path) -> Path:
    """A notebook's name as shown: relative to the repo when inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(path.name)


def run(path: Path, out_dir: Path, timeout_s: int = 1200) -> tuple[bool, float, str, nbformat.NotebookNode]:
    """Execute one notebook in its own folder; save the executed copy even when a cell fails or the kernel dies."""
    nb = nbformat.read(path, as_version=4)
    # the kernel logs only errors: no "running over TCP without encryption" notice (it listens on 127.0.0.1 only)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout_s,
        extra_arguments=["--log-level=ERROR"],
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.on_cell_execute = _stop_before_cell
    _stop["client"] = client
    start = time.perf_counter()
    outcome: list[BaseException] = []

    def execute() -> None:
        try:
            client.execute()  # then nbclient shuts the kernel down; the model server it started exits with it
        except BaseException as err:  # a failing cell, a dead kernel, a timeout: one failed row, then the next
            outcome.append(err)

    # In a thread, so that Ctrl-C and SIGTERM reach this script's handlers (nbclient replaces them in the main thread)
    worker = threading.Thread(target=execute, name=f"notebook {path.name}")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
            if _stop["signal"] and time.monotonic() - _stop["since"] > STOP_GRACE_S:
                _signal_kernel(client, signal.SIGKILL)  # the interrupt did not end the cell, or the kernel is stuck
    except KeyboardInterrupt:  # a second signal: stop now, the kernel with it
        _signal_kernel(client, signal.SIGKILL)
    finally:
        worker.join(10)  # nbclient sees the dead kernel within a second and returns; the executed copy is kept
        _stop["client"] = None
    ok, error = True, ""
    if outcome:
        err = outcome[0]
        lines = str(err).strip().splitlines() or [type(err).__name__]
        ok, error = False, f"{type(err).__name__}: {lines[-1][:200]}"
    interrupted = bool(_stop["signal"])
    if interrupted:
        ok, error = False, f"stopped by the user ({signal.Signals(_stop['signal']).name})"
    seconds = time.perf_counter() - start
    out = out_dir / relative(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    final_frames(nb)
    nbformat.write(nb, out)
    figures, blank = save_figures(nb, out_dir / "figures", relative(path).with_suffix("").as_posix().replace("/", "-"))
    if ok and blank:  # MPLBACKEND=Agg, a missing plt.show() in a loop, a figure closed too early: the student sees none
        ok, error = False, f"plotting cells {blank} show no figure ({figures} figures in all)"
    if interrupted:
        raise Stopped(ok, seconds, error, nb)
    return ok, seconds, error, nb


class Stopped(Exception):
    """The job was stopped while a notebook ran; carries that notebook's row."""


_stop = {"signal": 0, "client": None, "since": 0.0}
# After Ctrl-C or SIGTERM the running cell has this long to end on its interrupt; then its kernel is killed (a cell
# stuck in C code, or a kernel that stopped answering, would otherwise keep the job waiting for ever).
STOP_GRACE_S = 10.0


def _kernel_pid(client: NotebookClient | None) -> int | None:
    provisioner = getattr(getattr(client, "km", None), "provisioner", None)
    return getattr(provisioner, "pid", None)


def _signal_kernel(client: NotebookClient | None, signum: int) -> None:
    """SIGINT interrupts the running cell, as the notebook's stop button does; SIGKILL ends the kernel at once (its
    model server exits with it: utils/client/serve_child.py)."""
    pid = _kernel_pid(client)
    if pid:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _on_stop(signum: int, frame: object) -> None:
    """Ctrl-C or `kill PID`: interrupt the running cell, run no further cell or notebook, and kill the kernel if the
    cell has not ended STOP_GRACE_S later; a second signal kills it at once."""
    if _stop["signal"]:
        raise KeyboardInterrupt
    _stop["signal"], _stop["since"] = signum, time.monotonic()
    _signal_kernel(_stop["client"], signal.SIGINT)


def _stop_before_cell(**_: object) -> None:
    if _stop["signal"]:
        _signal_kernel(_stop["client"], signal.SIGINT)


def summary(rows: list[tuple[str, float, bool, str, list]], title: str) -> str:
    """The markdown summary: one row per notebook, then where the time went in each."""
    lines = [f"# {title}", "", "| notebook | seconds | result |", "|---|---:|---|"]
    lines += [f"| {n} | {s:.0f} | {'ok' if ok else 'failed: ' + e} |" for n, s, ok, e, _ in rows]
    lines += [
        "",
        f"total: {sum(r[1] for r in rows):.0f}s, {sum(r[2] for r in rows)}/{len(rows)} ok, {os.cpu_count()} cores",
        "",
        "## Slowest cells",
        "",
        "| notebook | cell | seconds | starts with |",
        "|---|---:|---:|---|",
    ]
    for name, _, _, _, slow in rows:
        lines += [f"| {name} | {i} | {s:.1f} | `{first.replace('|', '/')}` |" for i, s, first in slow]
    return "\n".join(lines) + "\n"


def rehearsal_environment() -> dict[str, str]:
    """Start the local stand-ins (the provider zoo in front of the kit's local server, a tiny Llama) and return the
    rehearsal's variables; the kernels of the notebooks inherit them. The zoo runs until this script ends."""
    import atexit

    from utils.client.local_server import running_server
    from utils.paths import model_cache_dir
    from utils.standins import rehearsal
    from utils.standins.provider_zoo import ProviderZoo

    folder = rehearsal.build_tiny_llama(model_cache_dir() / "rehearsal-tiny-llama")
    server = running_server("smollm2")
    zoo = ProviderZoo(server.base_url, server.served_model).__enter__()
    atexit.register(zoo.__exit__)
    urls = {p: zoo.url(p) for p in rehearsal.PROVIDERS_TO_STAND_IN}
    return rehearsal.environment(urls, folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=None, help="folder for executed notebooks and SUMMARY.md (default: build)")
    parser.add_argument("--rehearse", action="store_true", help="the full profile with local stand-ins")
    parser.add_argument(
        "--claims", action="store_true", help="write each notebook's checks to <out>/claims/ (for `make claims`)"
    )
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: every week*/*.ipynb)")
    args = parser.parse_args(argv)
    out_dir = ROOT / (args.out or ("build/rehearsal" if args.rehearse else "build"))
    # a kernel shows figures inline only when MPLBACKEND is unset (the tests set Agg for their own process)
    os.environ.pop("MPLBACKEND", None)
    # no browser keeps a widget alive here: text progress bars, updated every 2 s, save their final counts
    os.environ.update(LLMKIT_TEXT_PROGRESS="1", TQDM_MININTERVAL="2")
    if args.rehearse:
        os.environ.update(rehearsal_environment())
    notebooks = [Path(p).resolve() for p in args.notebooks] or sorted(ROOT.glob("week*/*.ipynb"))
    rows = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_stop)
    stopped = False
    for path in notebooks:
        name = str(relative(path))
        print(f"running {name} ...", flush=True)
        if args.claims:  # the kernel inherits it: utils.checks writes each check there
            log = out_dir / "claims" / f"{relative(path).with_suffix('').as_posix().replace('/', '-')}.jsonl"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.unlink(missing_ok=True)
            os.environ["LLMKIT_CLAIMS_LOG"] = str(log)
        try:
            ok, seconds, error, nb = run(path, out_dir)
        except Stopped as stop:
            ok, seconds, error, nb = stop.args
            stopped = True
        except KeyboardInterrupt:  # between cells' bookkeeping: no executed copy to keep
            ok, seconds, error, nb, stopped = False, 0.0, "stopped by the user", nbformat.v4.new_notebook(), True
        print(f"  {'ok' if ok else 'FAILED'} in {seconds:.0f}s {error}", flush=True)
        rows.append((name, seconds, ok, error, slowest_cells(nb)))
        if stopped:
            print("stopped: the notebooks after this one were not run", flush=True)
            break
    kind = (
        "full profile, rehearsal with local stand-ins"
        if args.rehearse
        else f"{os.environ.get('LLMKIT_PROFILE', 'auto')} profile"
    )
    from utils.sandbox import sweep_stale_folders

    sweep_stale_folders()  # the binaries a stopped kernel kept for timing
    text = summary(rows, f"Notebook run summary ({kind})")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "SUMMARY.md").write_text(text)
    times_file = out_dir / "times.json"  # earlier rows of other notebooks kept: a rerun of one updates its own
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    times.update({n: {"seconds": round(s, 1), "ok": ok, "error": e} for n, s, ok, e, _ in rows})
    times_file.write_text(json.dumps(times, indent=1))
    print(text)
    if stopped:
        return 128 + (_stop["signal"] or signal.SIGINT)
    return 0 if all(r[2] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
