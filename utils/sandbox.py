"""Run untrusted programs (a model's C++, a pasted Python) so they cannot harm the machine, and time them honestly.

Two layers, the strongest the OS offers:

* **limits**, set in the child itself before it starts (no shell in between): CPU seconds, address space, number of
  processes, size of any file written (stdout included), no core dumps, open files; a wall-clock timeout; an
  environment with nothing but PATH, a locale and TMPDIR; a throwaway folder with its own /tmp, and a budget for all
  it writes there (bytes and files, checked every 10 ms while it runs). Run as root, the child also drops to `nobody`.
* **bubblewrap** (`bwrap`, Linux) where it is installed: the program sees only read-only system folders and its own
  throwaway folder (never the home folder or the kit's folder), has no network, its own process and IPC namespaces,
  and everything it started dies with it, even a child that detached itself into a new session.
* **Landlock and seccomp** (Linux 5.13+, no privileges needed) where bubblewrap cannot run: before the program
  starts, the child forbids itself reads outside the system folders and its own, writes outside its folders, TCP
  connections (ABI 4+) and signals to processes outside (ABI 6+) with Landlock, and with a seccomp filter every
  socket (UDP, Unix), io_uring and signals to process groups (`kill(-1, ...)`), which Landlock does not cover.
"""

from __future__ import annotations

import atexit
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable

from . import landlock, seccomp
from .errors import BadInputError, LLMKitError
from .settings import setting

CXX_FLAGS = ["-O3", "-std=c++17", "-march=native"]
NOBODY = 65534
SYSTEM_DIRS = ("/usr", "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d")
# what a program may read under the fallback: bubblewrap's folders, and the machine's /proc and /dev (Landlock keeps
# other processes' /proc files out of reach: they need ptrace rights it refuses outside the sandbox)
FALLBACK_READABLE = (*SYSTEM_DIRS, "/bin", "/lib", "/lib64", "/sbin", "/proc", "/dev")


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


# ----------------------------------------------------------------------------------------------------------------
# Which protection is in force
# ----------------------------------------------------------------------------------------------------------------
def bwrap_path() -> str | None:
    """The bubblewrap executable, unless LLMKIT_SANDBOX=limits asks for the fallback."""
    if setting("LLMKIT_SANDBOX").lower() in ("limits", "none", "off"):
        return None
    return shutil.which("bwrap") if platform.system() == "Linux" else None


@cache
def _bwrap_works(path: str) -> bool:
    """bwrap is installed and can create its namespaces here (some locked-down containers forbid it)."""
    try:
        probe = subprocess.run(
            [path, *_bwrap_base(), "--", "/bin/true"], capture_output=True, timeout=20, preexec_fn=_drop_root
        )  # as nobody: the strictest case
        return probe.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def isolation() -> str:
    """'bubblewrap' or 'limits only': the protection runs get on this machine."""
    path = bwrap_path()
    return "bubblewrap" if path and _bwrap_works(path) else "limits only"


def describe_protection() -> str:
    """One paragraph: what protects this machine from the programs the kit runs, what does not hold, how to get more."""
    budget = f"at most {Limits.disk_mb} MB and {Limits.max_files:,} files written, removed after the run"
    if isolation() == "bubblewrap":
        return (
            "sandbox: bubblewrap + resource limits (no network, no access to your files, process limit, "
            f"file-size limit, {budget}, everything killed after the run)"
        )
    held = landlock.protections() + seccomp.protections()
    sockets, tcp = "no sockets (UDP, Unix)" in held, "no TCP connections" in held
    gaps = [
        ("read your files", "reads only system folders and its own" in held),
        ("write your files and anywhere else outside its folder", "writes only inside its own folder" in held),
        ("use the network" if not tcp else "send UDP", sockets),
        ("signal your other processes", "no signals to your other processes" in held),
        ("see the running processes with their command lines (/proc) and whether a path exists", False),
    ]
    if sockets and "no signals to your other processes" not in held:  # seccomp stops kill(-1), not kill(pid)
        gaps[3] = ("signal one of your other processes by its number", False)
    missing = [gap for gap, holds in gaps if not holds]
    layers = " + ".join(
        ["resource limits"]
        + [f"Landlock ABI {landlock.abi()}"] * bool(landlock.abi())
        + ["seccomp"] * bool(seccomp.protections())
    )
    apt = "bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`)"
    hint = {
        "Linux": ("this kernel has no Landlock; " * (not landlock.abi())) + f"install {apt} for isolation",
        "Darwin": "macOS's own sandbox (Seatbelt profiles) is not used by the kit and is untested here; run untrusted "
        "code in a container or VM for isolation",
    }.get(platform.system(), "run untrusted code in a container or VM for isolation")
    what = ", ".join(["CPU, memory, processes, file size, timeout", *held, budget, "no keys"])
    can = ", ".join(missing[:-1]) + " and " * (len(missing) > 1) + missing[-1]
    return f"sandbox: {layers} ({what}). Generated code can still {can}: {hint}."


# ----------------------------------------------------------------------------------------------------------------
# Throwaway folders
# ----------------------------------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------------------------
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


def safe_env(token: str = "", tmpdir: str = "/tmp") -> dict[str, str]:
    """A minimal environment for untrusted programs: no keys, no tokens, nothing inherited but PATH and locale."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "TMPDIR": tmpdir}
    if token:
        env["LLMKIT_RUN"] = token  # lets the kit find and stop anything the run left behind
    return env


def _drop_root() -> None:
    """In the child: a root parent runs untrusted code as `nobody` (root ignores the process limit)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


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
            _drop_root()
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


def _bwrap_base() -> list[str]:
    """bubblewrap's arguments: read-only system folders, fresh /proc, /dev and /tmp, no network, dies with us."""
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    for path in SYSTEM_DIRS:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = os.path.realpath(f"/{link}")
        if os.path.islink(f"/{link}") and target.startswith("/usr"):
            args += ["--symlink", target.lstrip("/"), f"/{link}"]
        elif os.path.isdir(f"/{link}"):
            args += ["--ro-bind", f"/{link}", f"/{link}"]
    return args + ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]


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


class _WriteBudget(threading.Thread):
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


def run_limited(
    cmd: list[str], timeout_s: float = 30, memory_mb: int = 1024, cwd: Path | None = None, limits: Limits | None = None
) -> RunResult:
    """Run an untrusted command in a throwaway folder with every limit set, inside bubblewrap where available."""
    limits = limits or Limits(wall_s=timeout_s, memory_mb=memory_mb)
    box = new_folder("llmkit-run-")
    workdir, scratch = Path(cwd) if cwd else box / "work", box / "tmp"  # scratch: the program's /tmp
    workdir.mkdir(exist_ok=True)
    scratch.mkdir()
    posix = os.name == "posix"
    as_nobody = posix and runs_as_nobody(cmd)
    if as_nobody:  # the program runs as nobody: let it use (only) its own folders
        os.chmod(box, 0o755)
        for folder in (workdir, scratch):
            os.chown(folder, NOBODY, NOBODY)
    token = uuid.uuid4().hex
    use_bwrap = posix and isolation() == "bubblewrap"
    full = _wrap(cmd, workdir, scratch, token) if use_bwrap else cmd
    out_path, err_path = box / "stdout", box / "stderr"
    fallback = posix and not use_bwrap
    rules = None
    if fallback and landlock.abi():
        rules = landlock.ruleset([str(workdir), str(scratch), os.devnull], [*FALLBACK_READABLE, *_readable_paths(cmd)])
    syscalls, _keep = seccomp.prepared() if fallback and seccomp.available() else (None, None)
    limiter = _limiter(limits, as_nobody, rules, syscalls) if posix else None
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                full,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
                env=safe_env(token, "/tmp" if use_bwrap else str(scratch)),
                start_new_session=True,
                preexec_fn=limiter,
            )
        except (OSError, subprocess.SubprocessError) as error:
            remove_folder(box)
            raise LLMKitError(f"Could not start {cmd[0]}: {error}") from None
        finally:
            if rules is not None:
                os.close(rules)

        def stop() -> None:
            try:
                os.killpg(proc.pid, signal.SIGKILL) if posix else proc.kill()
            except OSError:
                pass
            if posix and not use_bwrap:
                _kill_leftovers(token)

        budget = _WriteBudget([workdir, scratch], limits, stop)
        budget.start()
        # a plain wait returns the moment the program ends; wait(timeout=...) polls, up to 50 ms late, which a timing
        # would count as the program's (benchmarks/sandbox_protection.py measured +45 ms on a 180 ms program)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            stop()
            proc.kill()

        late = threading.Timer(limits.wall_s, expire)
        late.start()
        proc.wait()
        seconds = time.perf_counter() - start
        late.cancel()
        timed_out = expired.is_set() and not budget.reason
    if posix and not use_bwrap:
        _kill_leftovers(token)
    budget.done.set()
    budget.join()
    if not budget.reason:  # what a program wrote between the last check and its end counts too
        budget.check()
    stdout, cut = _read_capped(out_path, limits.output_kb)
    stderr, _ = _read_capped(err_path, 64)
    remove_folder(box)
    code = proc.returncode
    oom = not timed_out and code != 0 and any(s in stderr for s in ("bad_alloc", "MemoryError", "Cannot allocate"))
    stopped = budget.reason
    if not stopped and not timed_out and not oom and code is not None and code < 0:
        stopped = _SIGNALS.get(-code, f"it was killed by signal {-code}")
    if not stopped and use_bwrap and code is not None and code > 128 and not oom:  # bwrap: the signal as 128+n
        stopped = _SIGNALS.get(code - 128, "")
    if "Cannot fork" in stderr or "Resource temporarily unavailable" in stderr:
        stopped = stopped or f"it tried to start more than {limits.processes} processes"
    if cut and not stopped:
        stopped = f"it printed more than {limits.output_kb} KB"
    return RunResult(
        stdout, stderr, code, limits.wall_s if timed_out else seconds, timed_out, oom, stopped, budget.peak_mb
    )


# ----------------------------------------------------------------------------------------------------------------
# Compiling
# ----------------------------------------------------------------------------------------------------------------
def find_compiler() -> str:
    """g++ or clang++ on PATH; a clear message on what to install otherwise."""
    for name in ("g++", "clang++"):
        path = shutil.which(name)
        if path:
            return path
    hint = {
        "Windows": "install MSYS2 (then `pacman -S mingw-w64-ucrt-x86_64-gcc`) or Visual Studio Build Tools",
        "Darwin": "run `xcode-select --install`",
    }.get(platform.system(), "install g++ (Debian/Ubuntu: `sudo apt-get install g++`)")
    raise LLMKitError(f"No C++ compiler found: {hint}.")


def compile_command(compiler: str | None = None) -> str:
    """The exact compile command, for the prompt and for display."""
    return f"{Path(compiler or find_compiler()).name} {' '.join(CXX_FLAGS)} -o main main.cpp"


@dataclass
class CompileResult:
    """A compiled binary (in a throwaway folder), or the readable compiler errors."""

    ok: bool
    binary: Path | None
    errors: str
    seconds: float


def compile_cpp(code: str, workdir: Path | None = None, timeout_s: float = 120) -> CompileResult:
    """Compile C++ in a throwaway folder with CXX_FLAGS; errors shortened and shown relative to main.cpp."""
    folder = Path(workdir) if workdir else new_folder("llmkit-cpp-")
    src, exe = folder / "main.cpp", folder / "main"
    src.write_text(code)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [find_compiler(), *CXX_FLAGS, "-o", str(exe), str(src)], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return CompileResult(False, None, f"the compiler ran past {timeout_s:.0f}s", time.perf_counter() - start)
    seconds = time.perf_counter() - start
    errors = proc.stderr.replace(str(src), "main.cpp").replace(str(folder) + "/", "")
    errors = "\n".join(line for line in errors.splitlines() if ": error:" in line or ": warning:" not in line)
    if proc.returncode != 0:
        if not workdir:
            remove_folder(folder)
        lines = errors.splitlines()
        short = "\n".join(lines[:25]) + (f"\n... ({len(lines) - 25} more lines)" if len(lines) > 25 else "")
        return CompileResult(False, None, short or "compilation failed", seconds)
    os.chmod(folder, 0o755)  # the program runs as another user when the kit runs as root
    return CompileResult(True, exe, "", seconds)


def python_command(path: Path) -> list[str]:
    """How a Python program runs: the kit's interpreter, isolated from user site settings."""
    return [sys.executable, "-I", str(path)]


# ----------------------------------------------------------------------------------------------------------------
# Timing, with the sandbox's own start-up cost measured and kept out
# ----------------------------------------------------------------------------------------------------------------
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
    def at_resolution(self) -> bool:
        """The median is at the floor: the program ran faster than the sandbox can resolve."""
        return self.median <= RESOLUTION_S

    @property
    def spread(self) -> float:
        """Max minus min seconds."""
        return max(self.runs) - min(self.runs)

    def __str__(self) -> str:
        return f"{self.median:.4f}s (±{self.spread / 2:.4f}, {len(self.runs)} runs)"


_EMPTY = "int main() { return 0; }\n"
# Below this, a run's time is lost in the jitter of starting a process: timings are floored here, and a speed-up
# computed from a floored time is a lower bound ("at least").
RESOLUTION_S = 1e-4


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
    return Timing([max(t - overhead, RESOLUTION_S) for t in raw], overhead, max(empties) - min(empties))
