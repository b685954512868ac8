"""The small Linux helpers Landlock, seccomp and the runner share: libc, no_new_privs, dropping root."""

from __future__ import annotations

import ctypes
import os
from functools import cache

NO_NEW_PRIVS = 38  # prctl PR_SET_NO_NEW_PRIVS: required of an unprivileged process before it restricts itself
NOBODY = 65534  # the user a root kit runs untrusted programs as


@cache
def libc() -> ctypes.CDLL:
    """The C library, loaded once (never between fork and exec)."""
    return ctypes.CDLL(None, use_errno=True)


def set_no_new_privs(what: str) -> None:
    """In the child: forbid gaining privileges (setuid programs), as Landlock and seccomp require."""
    if libc().prctl(NO_NEW_PRIVS, 1, 0, 0, 0) < 0:
        raise OSError(ctypes.get_errno(), f"{what}: could not set no_new_privs")


def drop_root() -> None:
    """In the child: a root parent runs untrusted code as `nobody` (root ignores the process limit)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
