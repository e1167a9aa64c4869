"""Process settings that keep content off the disk: no core dumps.

A core dump of the serving process would hold every prompt in flight. ``zdrgate
serve`` (and ``zdrgate audit``) call :func:`disable_core_dumps` at start; the audit
reports what :func:`core_dump_state` finds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import resource

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def _prctl(option: int, value: int = 0) -> int | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0))
    except (OSError, AttributeError):
        return None


def disable_core_dumps(*, keep_hard_limit: bool = False) -> None:
    """Core file size 0, and (Linux) not dumpable: the kernel writes no core and
    no core-dump helper (``core_pattern`` pipes ignore the size limit) gets one.

    ``keep_hard_limit``: lower only the soft limit, so that children may raise it
    again (``zdrgate audit`` starts serving processes with cores allowed, to see that
    the gateway turns them off itself)."""
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1] if keep_hard_limit else 0
    resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    _prctl(PR_SET_DUMPABLE, 0)


def core_dump_state() -> dict[str, object]:
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    dumpable = _prctl(PR_GET_DUMPABLE)
    return {
        "rlimit_core": [soft, hard],
        "dumpable": dumpable,
        "off": soft == 0 and dumpable in (0, None),
    }
