"""CPU time and RSS of a process tree, read from /proc (Linux only).

A gateway may fork workers or helper threads/processes, so every figure is for
the root process plus all its live descendants. CPU of children that already
exited and were waited for is included through the root's cutime/cstime.
"""

from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (which may contain spaces)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rindex(")") + 2 :].split()


def tree_pids(root: int) -> list[int]:
    """The root and all its descendants, found by scanning every /proc/PID/stat ppid."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu_seconds(root: int) -> float:
    """user+sys CPU seconds of the tree (10 ms resolution: CLK_TCK is usually 100)."""
    ticks = 0
    for pid in tree_pids(root):
        fields = _stat_fields(pid)
        if fields is None:
            continue
        # After the name: state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14
        ticks += int(fields[11]) + int(fields[12])
        if pid == root:
            ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def tree_rss_bytes(root: int) -> int:
    """Resident set size of the whole tree now (shared pages counted once per process)."""
    return sum(_status_kb(pid, "VmRSS:") for pid in tree_pids(root)) * 1024


def tree_hwm_bytes(root: int) -> int:
    """Sum of each live process's own peak RSS (VmHWM); an upper bound for the tree peak."""
    return sum(_status_kb(pid, "VmHWM:") for pid in tree_pids(root)) * 1024


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system
