"""Landlock, Linux's sandbox for unprivileged processes: a child forbids itself reads and writes outside named folders,
TCP connections and signals to processes outside, before it runs an untrusted program. Plain ctypes over the three
system calls (there is no Landlock in Python's standard library); ABI numbers and flags from the kernel's
include/uapi/linux/landlock.h."""

from __future__ import annotations

import ctypes
import os
import platform
import struct
from functools import cache

from ._linux import libc, set_no_new_privs
from .guards import Guard

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same numbers on x86-64 and arm64
_VERSION = 1  # LANDLOCK_CREATE_RULESET_VERSION: ask for the ABI instead of creating a ruleset
_PATH_BENEATH = 1

# Filesystem rights that change something, by the ABI that added them; then reading (ABI 1: execute, read a file,
# list a folder)
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR, _TRUNCATE, _IOCTL_DEV = 1, 1 << 1, 1 << 2, 1 << 3, 1 << 14, 1 << 15
_WRITES = {1: _WRITE_FILE | sum(1 << bit for bit in range(4, 13)), 2: 1 << 13, 3: _TRUNCATE, 5: _IOCTL_DEV}
_READS = _EXECUTE | _READ_FILE | _READ_DIR
_FILE_RIGHTS = _EXECUTE | _READ_FILE | _WRITE_FILE | _TRUNCATE | _IOCTL_DEV  # what a rule on a single file may hold
_TCP = (1 << 0) | (1 << 1)  # bind and connect (ABI 4)
_SCOPES = (1 << 0) | (1 << 1)  # abstract unix sockets and signals outside the sandbox (ABI 6)


@cache
def abi() -> int:
    """The kernel's Landlock ABI version: 0 where there is none (not Linux, an old kernel, or switched off)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        return 0
    version = libc().syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION))
    return max(version, 0)


def protections(version: int | None = None) -> list[Guard]:
    """What Landlock enforces at this ABI (empty without Landlock)."""
    version = abi() if version is None else version
    if version < 1:
        return []
    return (
        [Guard.READS_OWN, Guard.WRITES_OWN] + [Guard.NO_TCP] * (version >= 4) + [Guard.NO_SIGNALS_OUT] * (version >= 6)
    )


def ruleset(writable: list[str], readable: list[str]) -> int:
    """In the kit: a Landlock ruleset (a file descriptor) that forbids every read and execution outside `readable`
    and `writable`, every write outside `writable` (folders or files; a path that does not exist is left out), TCP
    (ABI 4+) and signals or abstract sockets to processes outside (ABI 6+). Built once in the parent, so the child
    only has to enforce it (`enforce`). Raises OSError when the kernel refuses."""
    version = abi()
    if version < 1:
        raise OSError("Landlock is not available on this kernel")
    fs = _READS | sum(rights for added, rights in _WRITES.items() if added <= version)
    attr = struct.pack("=QQQ", fs, _TCP if version >= 4 else 0, _SCOPES if version >= 6 else 0)
    attr = attr[: 8 if version < 4 else 16 if version < 6 else 24]  # the struct grew with the ABI
    fd = libc().syscall(_CREATE_RULESET, ctypes.c_char_p(attr), ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "Landlock: could not create a ruleset")
    rules = [(path, fs) for path in writable] + [(path, _READS) for path in readable if path not in writable]
    try:
        for path, rights in rules:
            try:
                target = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except FileNotFoundError:  # a system folder this machine does not have
                continue
            try:
                allowed = rights if os.path.isdir(path) else rights & _FILE_RIGHTS
                rule = struct.pack("=Qi", allowed, target)  # struct landlock_path_beneath_attr is packed
                if libc().syscall(_ADD_RULE, fd, _PATH_BENEATH, ctypes.c_char_p(rule), ctypes.c_uint32(0)) < 0:
                    raise OSError(ctypes.get_errno(), f"Landlock: could not allow access to {path}")
            finally:
                os.close(target)
    except OSError:
        os.close(fd)
        raise
    return fd


def enforce(fd: int) -> None:
    """In the child, between fork and exec: put this process (and all it starts) under the ruleset `fd`."""
    set_no_new_privs("Landlock")
    if libc().syscall(_RESTRICT_SELF, fd, ctypes.c_uint32(0)) < 0:
        raise OSError(ctypes.get_errno(), "Landlock: could not restrict this process")
