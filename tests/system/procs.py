"""Processes on the host, read from /proc (a container's processes are among them)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path


def read_text(path: Path) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _stat_fields(pid: int) -> list[str]:
    # comm (field 2) may contain spaces or ')', so split after the last ')'.
    text = read_text(Path("/proc/%d/stat" % pid))
    return text[text.rfind(")") + 2 :].split() if text else []


def ppid(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[1]) if len(fields) > 1 else -1


def comm(pid: int) -> str:
    return read_text(Path("/proc/%d/comm" % pid)).strip()


def cmdline_args(pid: int) -> list[str]:
    try:
        raw = Path("/proc/%d/cmdline" % pid).read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def children(pid: int) -> list[int]:
    return [p for p in all_pids() if ppid(p) == pid]


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for p in all_pids():
        parents.setdefault(ppid(p), []).append(p)
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def pid_alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != "Z"


def kill(pid: int, sig) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
