"""Which protection holds on this machine: bubblewrap where it runs, else Landlock and seccomp, and the report."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from functools import cache

from ..settings import setting
from . import landlock, seccomp
from ._linux import drop_root
from .guards import Guard
from .limits import Limits

SYSTEM_DIRS = ("/usr", "/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d")

# what a program may read under the fallback: bubblewrap's folders, and the machine's /proc and /dev (Landlock keeps
# other processes' /proc files out of reach: they need ptrace rights it refuses outside the sandbox)
FALLBACK_READABLE = (*SYSTEM_DIRS, "/bin", "/lib", "/lib64", "/sbin", "/proc", "/dev")


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
            [path, *_bwrap_base(), "--", "/bin/true"], capture_output=True, timeout=20, preexec_fn=drop_root
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
    sockets, tcp = Guard.NO_SOCKETS in held, Guard.NO_TCP in held
    gaps = [
        ("read your files", Guard.READS_OWN in held),
        ("write your files and anywhere else outside its folder", Guard.WRITES_OWN in held),
        ("use the network" if not tcp else "send UDP", sockets),
        ("signal your other processes", Guard.NO_SIGNALS_OUT in held),
        ("see the running processes with their command lines (/proc) and whether a path exists", False),
    ]
    if sockets and Guard.NO_SIGNALS_OUT not in held:  # seccomp stops kill(-1), not kill(pid)
        gaps[3] = ("signal one of your other processes by its number", False)
    missing = [gap for gap, holds in gaps if not holds]
    layers = " + ".join(
        ["resource limits"]
        + [f"Landlock ABI {landlock.abi()}"] * bool(landlock.abi())
        + ["seccomp"] * bool(seccomp.protections())
    )
    what = ", ".join(["CPU, memory, processes, file size, timeout", *map(str, held), budget, "no keys"])
    can = ", ".join(missing[:-1]) + " and " * (len(missing) > 1) + missing[-1]
    return f"sandbox: {layers} ({what}). Generated code can still {can}: {_how_to_get_more()}."


def _how_to_get_more() -> str:
    """What a student can install or use for isolation on this OS."""
    apt = "bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`)"
    return {
        "Linux": ("this kernel has no Landlock; " * (not landlock.abi())) + f"install {apt} for isolation",
        "Darwin": "macOS's own sandbox (Seatbelt profiles) is not used by the kit and is untested here; run untrusted "
        "code in a container or VM for isolation",
    }.get(platform.system(), "run untrusted code in a container or VM for isolation")


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
