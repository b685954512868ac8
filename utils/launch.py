"""Week 7 from a notebook: a training function run on N processes forked from the kernel, the way Kaggle and Colab
users launch it (Accelerate's notebook_launcher). This module imports nothing heavy: the launcher refuses to fork a
kernel that has loaded bitsandbytes, which importing transformers' Trainer (and so the kit's training code) loads;
the function is named as "module:function" or "path/to/file.py:function" and imported in each process."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Callable

from .client.local_server import free_port
from .errors import BadInputError, LLMKitError


def resolve(target: str) -> Callable[..., Any]:
    """The function a "module:function" or "path/to/file.py:function" names."""
    where, _, name = target.rpartition(":")
    if not where or not name:
        raise BadInputError(f"Name the function as 'module:function' or 'file.py:function', got {target!r}.")
    if where.endswith(".py"):
        spec = importlib.util.spec_from_file_location(Path(where).stem, where)
        if spec is None or spec.loader is None or not Path(where).exists():
            raise BadInputError(f"No Python file at {where}.")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    function = getattr(module, name, None)
    if not callable(function):
        raise BadInputError(f"{where} has no function {name}.")
    return function


def _run(target: str, *args: Any) -> Any:
    """In each process: import the function there (after the fork), then call it."""
    return resolve(target)(*args)


def launch_in_notebook(processes: int, target: str, *args: Any) -> None:
    """target(*args) on `processes` processes forked from this kernel (gloo on a CPU, NCCL on GPUs), each with its
    share of the CPU threads. Where Accelerate's launcher cannot fork this kernel, one sentence says why and what to
    do instead."""
    if processes < 1:
        raise BadInputError(f"processes must be at least 1, got {processes}.")
    from accelerate import notebook_launcher
    from accelerate.state import AcceleratorState

    if "bitsandbytes" in sys.modules or AcceleratorState._shared_state:
        why = (
            "bitsandbytes is loaded (importing peft or transformers' Trainer loads it, and it may start CUDA, which a "
            "forked process cannot inherit)"
            if "bitsandbytes" in sys.modules
            else "a Trainer or Accelerator has already run in it"
        )
        raise LLMKitError(
            f"Accelerate's notebook_launcher forks this kernel, and refuses to once {why}: launch from a fresh kernel "
            "(import only utils.launch before this call), or run the training script on N processes with "
            "distributed.run_processes (torchrun)."
        )
    from accelerate.utils import patch_environment

    threads = max(1, (os.cpu_count() or 1) // processes)
    with patch_environment(omp_num_threads=threads, tqdm_disable=1):  # set for the forked processes, then restored
        notebook_launcher(_run, args=(target, *args), num_processes=processes, use_port=str(free_port()))
