"""The sandbox: run untrusted programs (a model's C++, a pasted Python) so they cannot harm the machine, and time them.

Layers, the strongest the OS offers: resource limits set in the child (CPU, memory, processes, file size, a
timeout, a write budget, an empty environment, `nobody` under root); bubblewrap where it runs (read-only system
folders, no network, own namespaces); else Landlock and a seccomp filter (`protection.describe_protection` says
which hold here). Modules: limits, protection, folders, running, compiling, timing; landlock and seccomp beneath.
"""

from .compiling import CXX_FLAGS, CompileResult, compile_command, compile_cpp, find_compiler, python_command
from .folders import new_folder, remove_folder, sweep_stale_folders
from .limits import Limits, RunResult
from .protection import bwrap_path, describe_protection, isolation
from .running import run_limited, safe_env
from .timing import RESOLUTION_S, Timing, resolution_floor, sandbox_overhead, time_command

__all__ = [
    "CXX_FLAGS",
    "RESOLUTION_S",
    "resolution_floor",
    "CompileResult",
    "Limits",
    "RunResult",
    "Timing",
    "bwrap_path",
    "compile_command",
    "compile_cpp",
    "describe_protection",
    "find_compiler",
    "isolation",
    "new_folder",
    "python_command",
    "remove_folder",
    "run_limited",
    "safe_env",
    "sandbox_overhead",
    "sweep_stale_folders",
    "time_command",
]
