"""Leftovers of containers and builds: find them, remove them.

nspawn cannot always clean up after itself here (the host's /run is not a
tmpfs, and PID 1 is not systemd), and a killed test leaves containers, mounts
and cgroups behind. cleanup_stale() removes them before and after each
container; stale_leftovers() lists what remains, for the session's final check.

Several test sessions may share a machine (two engineers, two worktrees): each
names its containers after its own process (machine_name), touches only those,
and removes another session's containers only once that session has died.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

from tests.system import cgroups, procs

NSPAWN_RUN_DIR = Path("/run/systemd/nspawn")
# assist-LABEL-PID: the container LABEL of the test session whose process is PID.
MACHINE_NAME = re.compile(r"^assist-.+-(\d+)$")


def machine_name(label: str) -> str:
    """This session's name for a container (nspawn's -M, its cgroup's name)."""
    return "assist-%s-%d" % (label, os.getpid())


def cleanup_stale(names=(), roots=()) -> None:
    """Remove leftovers of earlier containers so the next boot succeeds.

    Kills nspawn processes of the given machine names or roots, unmounts
    anything left below the roots, removes /run/systemd/nspawn leftovers and
    removes process-free `payload`/`supervisor`/`init.scope` cgroups and our
    own `assist-salt/NAME` ones depth-first. Best effort: never raises; use
    stale_leftovers() to assert.
    """
    roots = [Path(r) for r in roots]
    _kill_nspawns(names, roots)
    for root in roots:
        unmount_under(root)
    _remove_nspawn_run_dir(names)
    for name in names:
        cgroups.wait_empty(name, timeout=10)
    cgroups.remove_stale(_live_machine_names())


def stale_leftovers(names=(), roots=()) -> list[str]:
    """Describe leftovers of containers with these names or roots, plus
    stale cgroups and /run/systemd/nspawn (for test assertions)."""
    roots = [Path(r).resolve() for r in roots]
    found = ["nspawn pid %d" % pid for pid in _nspawn_pids() if _is_our_nspawn(pid, names, roots)]
    for root in roots:
        found += ["mount %s" % m for m in _mounts_under(Path(root))]
    found += ["cgroup %s" % c for c in cgroups.stale(_live_machine_names())]
    # The shared parent stays while another session's containers run in it.
    found += ["cgroup %s" % c for c in cgroups.own_parents() if not any(child.is_dir() for child in c.iterdir())]
    if _nspawn_pids():  # someone else's container: only look at ours
        found += [
            str(NSPAWN_RUN_DIR / sub / name)
            for name in names
            for sub in ("propagate", "unix-export")
            if (NSPAWN_RUN_DIR / sub / name).exists()
        ]
    elif NSPAWN_RUN_DIR.exists():
        found.append(str(NSPAWN_RUN_DIR))
    return found


def remove_tree(path: Path) -> None:
    """rm -rf that first unmounts anything below `path`.

    debootstrap mounts /proc and /sys in its target; deleting through such a
    mount would attack the host, so refuse if anything stays mounted.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    unmount_under(path)
    if _mounts_under(path):
        raise RuntimeError("refusing to delete %s: still has mounts %s" % (path, _mounts_under(path)))
    shutil.rmtree(path)


def remove_dead_builds(directory: Path) -> None:
    """Remove `.build-*-PID` dirs left in a cache by builders that were killed."""
    for work in Path(directory).glob(".build-*"):
        pid = work.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not procs.pid_alive(int(pid)):
            remove_tree(work)


def unmount_under(path: Path) -> None:
    """Lazily unmount every mount at or below `path`, deepest first."""
    for mount in sorted(_mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)


def _remove_nspawn_run_dir(names) -> None:
    # nspawn tries to clean this itself but refuses when /run is not a tmpfs
    # ("Attempted to remove disk file system under ...").
    if _nspawn_pids():
        targets = [NSPAWN_RUN_DIR / sub / name for name in names for sub in ("propagate", "unix-export")]
    else:
        targets = [NSPAWN_RUN_DIR]
    for target in targets:
        unmount_under(target)
        if not _mounts_under(target):
            shutil.rmtree(target, ignore_errors=True)


def _kill_nspawns(names, roots) -> None:
    for pid in _nspawn_pids():
        if _is_our_nspawn(pid, names, roots) or _is_orphan(pid):
            for child in procs.descendants(pid):
                procs.kill(child, signal.SIGKILL)
            procs.kill(pid, signal.SIGKILL)
            procs.wait_gone(pid, 10)


def _is_our_nspawn(pid: int, names, roots) -> bool:
    """Whether nspawn `pid` runs machine NAME or a root at/below ROOTS."""
    args = procs.cmdline_args(pid)
    name = _option_value(args, "-M", "--machine")
    directory = _option_value(args, "-D", "--directory")
    if name is not None and name in names:
        return True
    if directory is None:
        return False
    directory = os.path.realpath(directory)
    return any(directory == str(r) or directory.startswith(str(r) + "/") for r in (Path(x).resolve() for x in roots))


def _is_orphan(pid: int) -> bool:
    """Whether nspawn `pid` runs a container of a test session that has died."""
    name = _option_value(procs.cmdline_args(pid), "-M", "--machine") or ""
    owner = MACHINE_NAME.match(name)
    return bool(owner) and not procs.pid_alive(int(owner.group(1)))


def _option_value(args, short, long):
    for i, arg in enumerate(args):
        if arg in (short, long) and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(long + "="):
            return arg.split("=", 1)[1]
    return None


def _nspawn_pids() -> list[int]:
    return [pid for pid in procs.all_pids() if procs.comm(pid) == "systemd-nspawn"]


def _live_machine_names() -> set:
    names = set()
    for pid in _nspawn_pids():
        name = _option_value(procs.cmdline_args(pid), "-M", "--machine")
        if name:
            names.add(name)
    return names


def _mounts_under(path: Path) -> list[str]:
    base = os.path.realpath(path)
    found = []
    for line in procs.read_text(Path("/proc/self/mountinfo")).splitlines():
        mount_point = _unescape_mount(line.split()[4])
        if mount_point == base or mount_point.startswith(base + "/"):
            found.append(mount_point)
    return found


def _unescape_mount(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)
