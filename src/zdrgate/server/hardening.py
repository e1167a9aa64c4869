"""Process hardening for ``zdrgate serve``: no core dumps.

A core dump is a copy of the process's memory, and that memory holds the prompts and
completions in flight: a crash must not write one to disk, nor pipe one to a crash
reporter. ``RLIMIT_CORE = 0`` stops the kernel writing a core file (soft and hard
limit, so the process cannot raise it again); on Linux, ``PR_SET_DUMPABLE = 0`` also
stops ``core_pattern`` pipes and makes ``/proc/<pid>/mem`` and ptrace unavailable to
other processes of the same user. Worker processes inherit both.

Usage (first thing in ``serve``)::

    disable_core_dumps()
"""

from __future__ import annotations

import ctypes
import ctypes.util
import resource
import sys

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def disable_core_dumps() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def dumpable() -> bool:
    """Whether this process may be dumped (Linux; elsewhere, whether a core size is allowed)."""
    if sys.platform.startswith("linux"):
        return bool(_libc().prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
    return resource.getrlimit(resource.RLIMIT_CORE)[0] != 0


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
