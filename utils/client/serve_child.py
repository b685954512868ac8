"""Run a local model server as a child that ends when its parent does: `python serve_child.py PARENT_PID TARGET ARGS`,
TARGET a module run as `python -m` runs it, or `module:function` called with no arguments.

A notebook's kernel starts the server and stops it at exit; a kernel that is killed (the main job stopped, a kernel
restart) runs no exit handler. This launcher watches the parent and exits with it, on every OS, so no server is left
behind. It is run as a script, so it imports nothing of the kit.
"""

from __future__ import annotations

import os.path
import sys

# Python put this script's folder (utils/) first on the path, where profile.py would shadow the standard library's
# `profile` module for the server: take it off before anything else is imported.
if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    del sys.path[0]

import os  # noqa: E402
import runpy  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


if __name__ == "__main__":
    parent_pid, target = int(sys.argv[1]), sys.argv[2]
    threading.Thread(target=_exit_with, args=(parent_pid,), daemon=True).start()
    module, _, function = target.partition(":")
    sys.argv = [module, *sys.argv[3:]]
    if function:
        import importlib

        sys.exit(getattr(importlib.import_module(module), function)())
    runpy.run_module(module, run_name="__main__", alter_sys=True)
