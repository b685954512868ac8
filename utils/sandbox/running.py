"""Running an untrusted command: every limit set in the child, inside bubblewrap where it runs, else under Landlock
and seccomp; a write budget watched while it runs, and anything it left behind stopped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import LLMKitError
from . import landlock, seccomp
from ._linux import NOBODY, drop_root
from .folders import WriteBudget, new_folder, remove_folder
from .limits import Limits, RunResult
from .protection import FALLBACK_READABLE, _bwrap_base, bwrap_path, isolation


def safe_env(token: str = "", tmpdir: str = "/tmp") -> dict[str, str]:
    """A minimal environment for untrusted programs: no keys, no tokens, nothing inherited but PATH and locale."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "TMPDIR": tmpdir}
    if token:
        env["LLMKIT_RUN"] = token  # lets the kit find and stop anything the run left behind
    return env


def _reachable_by_others(path: str) -> bool:
    """Every folder on the way to path can be entered by any user (so `nobody` can run what is there)."""
    folder = Path(os.path.realpath(path)).parent
    for part in (folder, *folder.parents):
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def runs_as_nobody(cmd: list[str]) -> bool:
    """True when a root kit can run this command as `nobody`: always for compiled programs in throwaway folders;
    for Python only if its installation is outside root's private home (a pyenv under /root is not)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    program = shutil.which(cmd[0]) or cmd[0]
    needed = [program] + ([sys.base_prefix + "/x", sys.prefix + "/x"] if _is_python(program) else [])
    return all(_reachable_by_others(p) for p in needed)


def _is_python(program: str) -> bool:
    return program == sys.executable or os.path.realpath(program) == os.path.realpath(sys.executable)


def _user_processes(uid: int) -> int:
    """How many processes and threads a user runs now: the kernel's process limit counts every thread of the user
    (a student's notebook kernels, model servers and torch threads are hundreds), so the limit starts above them."""
    count = 0
    for proc in Path("/proc").iterdir() if os.path.isdir("/proc") else []:
        try:
            if proc.name.isdigit() and proc.stat().st_uid == uid:
                count += sum(1 for _ in (proc / "task").iterdir())
        except OSError:  # it ended while we counted
            continue
    return count


def _limiter(limits: Limits, as_nobody: bool, ruleset: int | None = None, syscalls: Any = None) -> Callable[[], None]:
    """The function the child runs between fork and exec: drop root, set every limit, then (where given) enforce a
    Landlock ruleset and install a seccomp filter the parent built."""
    import resource

    run_uid = NOBODY if as_nobody else os.geteuid()
    nproc = _user_processes(run_uid) + limits.processes
    mb = 1024 * 1024
    wanted = [
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_AS, limits.memory_mb * mb),
        (resource.RLIMIT_NPROC, nproc),
        (resource.RLIMIT_FSIZE, limits.file_mb * mb),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, limits.open_files),
    ]

    def apply() -> None:
        if as_nobody:
            drop_root()
        for what, value in wanted:
            try:
                resource.setrlimit(what, (value, value))
            except (ValueError, OSError):  # a limit this OS does not support (macOS has no RLIMIT_AS)
                pass
        if ruleset is not None:
            landlock.enforce(ruleset)
        if syscalls is not None:
            seccomp.install(syscalls)

    return apply


def _readable_paths(cmd: list[str]) -> list[str]:
    """Folders outside the system ones that the program needs read-only: its own folder; for Python, the venv and
    the script's folder. Other arguments are never bound, so a path given as an argument stays out of reach."""
    paths: list[str] = []
    program = cmd[0]
    if _is_python(program):
        paths += [sys.prefix, sys.base_prefix]
        script = next((a for a in cmd[1:] if a.endswith(".py") and os.path.isfile(a)), None)
        if script:
            paths.append(str(Path(script).resolve().parent))
    elif program.startswith("/"):
        paths.append(str(Path(program).parent))
    system = ("/usr", "/bin", "/lib", "/lib64", "/sbin")
    return [
        p
        for p in dict.fromkeys(paths)
        if p not in ("/", "") and not p.startswith(tuple(s + "/" for s in system)) and p not in system
    ]


def _wrap(cmd: list[str], workdir: Path, scratch: Path, token: str) -> list[str]:
    """The command as bubblewrap runs it: its folder writable at the same path, the program's files read-only, and
    its /tmp a folder of its box on disk (bubblewrap 0.8 cannot size a tmpfs; this way the budget counts it)."""
    args = [bwrap_path() or "bwrap", *_bwrap_base(), "--bind", str(scratch), "/tmp"]
    for path in _readable_paths(cmd):
        args += ["--ro-bind", path, path]
    args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    for key, value in safe_env(token).items():
        args += ["--setenv", key, value]
    return [*args, "--", *cmd]


def _kill_leftovers(token: str) -> None:
    """Stop every process that still carries this run's token (a child that detached itself, under the fallback)."""
    for proc in Path("/proc").iterdir() if os.path.isdir("/proc") else []:
        if not proc.name.isdigit():
            continue
        try:
            if f"LLMKIT_RUN={token}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc.name), signal.SIGKILL)
        except OSError:
            continue


def _read_capped(path: Path, limit_kb: int) -> tuple[str, bool]:
    with open(path, "rb") as f:
        data = f.read(limit_kb * 1024 + 1)
    return data[: limit_kb * 1024].decode(errors="replace"), len(data) > limit_kb * 1024


_SIGNALS = {
    signal.SIGXFSZ: "it wrote more than the file-size limit (its output or a file)",
    signal.SIGXCPU: "it used more CPU time than its limit",
    signal.SIGKILL: "it was killed (a limit was reached)",
    signal.SIGSEGV: "it crashed (segmentation fault: a bad memory access)",
    signal.SIGABRT: "it aborted",
}


@dataclass(frozen=True)
class _Box:
    """A run's throwaway folder: the program's working folder and its /tmp, and whether it runs as nobody."""

    root: Path
    workdir: Path
    scratch: Path
    as_nobody: bool


def _make_box(cmd: list[str], cwd: Path | None) -> _Box:
    """A fresh folder for one run; handed to `nobody` when a root kit runs the program as that user."""
    root = new_folder("llmkit-run-")
    workdir, scratch = Path(cwd) if cwd else root / "work", root / "tmp"  # scratch: the program's /tmp
    workdir.mkdir(exist_ok=True)
    scratch.mkdir()
    as_nobody = os.name == "posix" and runs_as_nobody(cmd)
    if as_nobody:  # the program runs as nobody: let it use (only) its own folders
        os.chmod(root, 0o755)
        for folder in (workdir, scratch):
            os.chown(folder, NOBODY, NOBODY)
    return _Box(root, workdir, scratch, as_nobody)


def _child_setup(cmd: list[str], box: _Box, limits: Limits, use_bwrap: bool) -> tuple[Any, int | None, Any]:
    """(the function the child runs before exec, the Landlock ruleset to close after the start, the seccomp buffer
    to keep alive until then); the fallback layers only where bubblewrap does not run."""
    if os.name != "posix":
        return None, None, None
    fallback = not use_bwrap
    rules = None
    if fallback and landlock.abi():
        writable = [str(box.workdir), str(box.scratch), os.devnull]
        rules = landlock.ruleset(writable, [*FALLBACK_READABLE, *_readable_paths(cmd)])
    syscalls, keep = seccomp.prepared() if fallback and seccomp.available() else (None, None)
    return _limiter(limits, box.as_nobody, rules, syscalls), rules, keep


def _stopper(proc: subprocess.Popen, token: str, sweep: bool) -> Callable[[], None]:
    """A function that kills the run's process group (and, under the fallback, whatever carries its token)."""

    def stop() -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL) if os.name == "posix" else proc.kill()
        except OSError:
            pass
        if sweep:
            _kill_leftovers(token)

    return stop


def _wait(proc: subprocess.Popen, stop: Callable[[], None], wall_s: float, start: float) -> tuple[float, bool]:
    """(seconds the program ran, whether the wall-clock limit stopped it). A plain wait returns the moment the
    program ends; wait(timeout=...) polls up to 50 ms late, which a timing would count as the program's."""
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        stop()
        proc.kill()

    late = threading.Timer(wall_s, expire)
    late.start()
    proc.wait()
    seconds = time.perf_counter() - start
    late.cancel()
    return seconds, expired.is_set()


def _verdict(
    code: int | None, stderr: str, timed_out: bool, over_budget: str, cut: bool, use_bwrap: bool, limits: Limits
) -> tuple[bool, str]:
    """(out of memory, the limit that stopped the run in words) from how it ended and what it printed."""
    oom = not timed_out and code != 0 and any(s in stderr for s in ("bad_alloc", "MemoryError", "Cannot allocate"))
    stopped = over_budget
    if not stopped and not timed_out and not oom and code is not None and code < 0:
        stopped = _SIGNALS.get(-code, f"it was killed by signal {-code}")
    if not stopped and use_bwrap and code is not None and code > 128 and not oom:  # bwrap: the signal as 128+n
        stopped = _SIGNALS.get(code - 128, "")
    if "Cannot fork" in stderr or "Resource temporarily unavailable" in stderr:
        stopped = stopped or f"it tried to start more than {limits.processes} processes"
    if cut and not stopped:
        stopped = f"it printed more than {limits.output_kb} KB"
    return oom, stopped


def run_limited(
    cmd: list[str], timeout_s: float = 30, memory_mb: int = 1024, cwd: Path | None = None, limits: Limits | None = None
) -> RunResult:
    """Run an untrusted command in a throwaway folder with every limit set, inside bubblewrap where available."""
    limits = limits or Limits(wall_s=timeout_s, memory_mb=memory_mb)
    box, token = _make_box(cmd, cwd), uuid.uuid4().hex
    use_bwrap = os.name == "posix" and isolation() == "bubblewrap"
    sweep = os.name == "posix" and not use_bwrap  # under the fallback, a detached child can outlive the group
    limiter, rules, _keep = _child_setup(cmd, box, limits, use_bwrap)
    full = _wrap(cmd, box.workdir, box.scratch, token) if use_bwrap else cmd
    env = safe_env(token, "/tmp" if use_bwrap else str(box.scratch))
    with open(box.root / "stdout", "wb") as out, open(box.root / "stderr", "wb") as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                full,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                cwd=box.workdir,
                env=env,
                start_new_session=True,
                preexec_fn=limiter,
            )
        except (OSError, subprocess.SubprocessError) as error:
            remove_folder(box.root)
            raise LLMKitError(f"Could not start {cmd[0]}: {error}") from None
        finally:
            if rules is not None:
                os.close(rules)
        stop = _stopper(proc, token, sweep)
        budget = WriteBudget([box.workdir, box.scratch], limits, stop)
        budget.start()
        seconds, expired = _wait(proc, stop, limits.wall_s, start)
        timed_out = expired and not budget.reason
    if sweep:
        _kill_leftovers(token)
    budget.done.set()
    budget.join()
    if not budget.reason:  # what a program wrote between the last check and its end counts too
        budget.check()
    stdout, cut = _read_capped(box.root / "stdout", limits.output_kb)
    stderr, _ = _read_capped(box.root / "stderr", 64)
    remove_folder(box.root)
    oom, stopped = _verdict(proc.returncode, stderr, timed_out, budget.reason, cut, use_bwrap, limits)
    seconds = limits.wall_s if timed_out else seconds
    return RunResult(stdout, stderr, proc.returncode, seconds, timed_out, oom, stopped, budget.peak_mb)
