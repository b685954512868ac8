"""seccomp, Linux's system-call filter: where bubblewrap cannot run, the child refuses itself the calls Landlock does
not cover before it runs an untrusted program. Sockets of every kind (UDP, raw, and Unix sockets, through which a
desktop session bus or a container daemon would run commands outside the sandbox), io_uring (which opens sockets
without the socket call), and signals to a process group or to every process (`kill(-1, SIGKILL)`) are refused with
an error; everything else is allowed. A classic BPF program in plain ctypes: numbers from the kernel's
include/uapi/linux/{seccomp,filter,audit}.h and each architecture's syscall table."""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

from ._linux import libc, set_no_new_privs
from .guards import Guard

_PR_SET_SECCOMP, _MODE_FILTER = 22, 2
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | errno
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ/JGE/JSET|K, BPF_RET|K
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data; the low 32 bits of args[0] on little-endian machines
_X32 = 0x40000000  # x86-64's x32 calls carry this bit, with the same architecture number


# architecture number, then the calls: socket, io_uring_setup, kill, seccomp (the same on every kernel of that arch)
_ARCHS = {"x86_64": (0xC000003E, 41, 425, 62, 317), "aarch64": (0xC00000B7, 198, 425, 129, 277)}
_SET_MODE_FILTER, _SPEC_ALLOW = 1, 1 << 2  # seccomp(2): install a filter; leave speculative store bypass as it was

PROTECTIONS = [Guard.NO_SOCKETS, Guard.NO_GROUP_SIGNALS]


def available() -> bool:
    """Whether the kit can filter system calls here (Linux on x86-64 or arm64)."""
    return platform.system() == "Linux" and platform.machine() in _ARCHS


def protections() -> list[Guard]:
    """What the filter holds (empty where it cannot be installed)."""
    return list(PROTECTIONS) if available() else []


def program() -> bytes:
    """The filter as packed `struct sock_filter` instructions, for this machine's architecture."""
    arch, socket, io_uring_setup, kill, _ = _ARCHS[platform.machine()]

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("=HBBI", code, jt, jf, k)

    deny = op(_RET, _ERRNO | errno.EACCES)
    return b"".join(
        [
            op(_LD_ABS, _ARCH),
            op(_JEQ, arch, jt=1),  # another ABI (32-bit calls from a 64-bit program): refuse everything
            op(_RET, _ERRNO | errno.ENOSYS),
            op(_LD_ABS, _NR),
            op(_JGE, _X32, jt=0, jf=1),
            op(_RET, _ERRNO | errno.ENOSYS),
            op(_JEQ, socket, jt=0, jf=1),
            deny,
            op(_JEQ, io_uring_setup, jt=0, jf=1),
            op(_RET, _ERRNO | errno.ENOSYS),
            op(_JEQ, kill, jt=0, jf=3),
            op(_LD_ABS, _ARG0),
            op(_JSET, 0x80000000, jt=0, jf=1),  # a negative pid: a process group, or -1 for every process
            op(_RET, _ERRNO | errno.EPERM),
            op(_RET, _ALLOW),
        ]
    )


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def prepared() -> tuple[_Fprog, ctypes.Array]:
    """In the parent: the filter ready to install (kept alive by the caller until the child has exec'd)."""
    libc()  # loaded here, not between fork and exec
    code = program()
    buffer = ctypes.create_string_buffer(code, len(code))
    return _Fprog(len(code) // 8, ctypes.addressof(buffer)), buffer


def install(prog: _Fprog) -> None:
    """In the child, between fork and exec: put this process (and all it starts) under the filter. Kernels before
    5.16 would also turn on their Spectre v4 mitigation for a filtered process, slowing the very code week 5 times;
    the program holds no secret of ours to protect, so the filter asks them not to (SECCOMP_FILTER_FLAG_SPEC_ALLOW)."""
    set_no_new_privs("seccomp")
    number = _ARCHS[platform.machine()][-1]
    if libc().syscall(number, _SET_MODE_FILTER, _SPEC_ALLOW, ctypes.byref(prog)) == 0:
        return
    if libc().prctl(_PR_SET_SECCOMP, _MODE_FILTER, ctypes.byref(prog), 0, 0) < 0:  # a kernel without the flag (< 4.17)
        raise OSError(ctypes.get_errno(), "seccomp: could not install the filter")
