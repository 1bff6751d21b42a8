"""The cgroups containers run in, and the empty ones nspawn leaves behind.

Each nspawn starts inside its own cgroup (`assist-salt/<name>`, below the cgroup
the tests run in), so the `payload`/`supervisor` cgroups it creates never
collide with another container's and are easy to remove afterwards. A stale
cgroup makes the next systemd boot fail ("Failed to attach ... compat systemd
cgroup //payload").
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from tests.system import host, procs

BASE = "assist-salt"
# Names of cgroups nspawn (and systemd inside it) create and may leave behind.
STALE_NAMES = ("payload", "supervisor", "init.scope")


def make_own(name: str) -> list[Path]:
    """Create the container's cgroups (one per hierarchy nspawn uses)."""
    paths = []
    for hierarchy in host.cgroup_hierarchies():
        path = _own_path(hierarchy, name)
        path.mkdir(parents=True, exist_ok=True)
        paths.append(path)
    return paths


def join(paths) -> None:
    """preexec_fn: move the child (nspawn) into its own cgroups before exec, so
    nspawn creates payload/supervisor there instead of in ours."""
    for path in paths:
        with open(path / "cgroup.procs", "w") as cgroup_procs:
            cgroup_procs.write(str(os.getpid()))


def wait_empty(name: str, timeout: float) -> None:
    # Processes of a SIGKILLed PID namespace take a moment to leave.
    deadline = time.monotonic() + timeout
    paths = [_own_path(h, name) for h in host.cgroup_hierarchies()]
    while any(p.exists() and _has_procs(p) for p in paths):
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


def stale(live_names) -> list[Path]:
    """Process-free cgroup subtrees left by nspawn, outermost first.

    Generic `payload`/`supervisor`/`init.scope` names are only collected when
    the host does not run systemd (where such names are nspawn's), and never
    inside a live container's `assist-salt/NAME` cgroup.
    """
    host_systemd = Path("/run/systemd/system").is_dir()
    found = []
    for hierarchy in host.cgroup_hierarchies():
        for dirpath, dirnames, _files in os.walk(hierarchy):
            path = Path(dirpath)
            if path.parent.name == BASE:
                if path.name not in live_names and not _has_procs(path):
                    found.append(path)
                dirnames.clear()  # a container's subtree is one unit
            elif path.name in STALE_NAMES and not host_systemd:
                if not _has_procs(path):
                    found.append(path)
                dirnames.clear()
    return found


def own_parents() -> list[Path]:
    """Our `assist-salt` parent cgroups (removable once empty)."""
    return [path for hierarchy in host.cgroup_hierarchies() for path in hierarchy.rglob(BASE) if path.is_dir()]


def remove_stale(live_names) -> None:
    for top in stale(live_names):
        _rmdir_tree(top)
    for parent in own_parents():
        with contextlib.suppress(OSError):  # not empty: still in use
            os.rmdir(parent)


def _own_path(hierarchy: Path, name: str) -> Path:
    # Under the cgroup we run in, so it works inside a delegated subtree too.
    return _current(hierarchy) / BASE / name


def _current(hierarchy: Path) -> Path:
    v1_name = "name=systemd" if hierarchy.name == "systemd" else None
    for line in procs.read_text(Path("/proc/self/cgroup")).splitlines():
        _id, controllers, path = line.split(":", 2)
        if (v1_name and v1_name in controllers.split(",")) or (not v1_name and controllers == ""):
            return hierarchy / path.lstrip("/")
    return hierarchy


def _rmdir_tree(top: Path) -> None:
    # cgroup dirs can only be removed empty: children first (depth-first).
    # EBUSY means a process appeared meanwhile: leave it for next time.
    for dirpath, _dirnames, _files in os.walk(top, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)


def _has_procs(top: Path) -> bool:
    for dirpath, _dirnames, _files in os.walk(top):
        if procs.read_text(Path(dirpath) / "cgroup.procs").strip():
            return True
    return False
