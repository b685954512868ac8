"""Compiling a model's C++ with the kit's flags, errors shortened; how a Python program is run."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import LLMKitError
from .folders import new_folder, remove_folder

CXX_FLAGS = ["-O3", "-std=c++17", "-march=native"]


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
