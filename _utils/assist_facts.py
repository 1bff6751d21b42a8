"""
Facts about the Cloud Assistant agent that come from files alone, shared by the
``assist`` execution module and the ``assist`` grain (grains may not run commands).
"""

import os
import re

import salt.utils.platform

# The vendor's test: `strings /sbin/init | grep ...`, in this order.
INIT_MARKERS = ((b"/lib/system", "systemd"), (b"upstart", "upstart"), (b"sysvinit", "sysvinit"))


def resolve(root, path):
    """Follow symbolic links one component at a time, never leaving the root."""
    pending = [part for part in path.split("/") if part]
    done = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            done = done[:-1]
            continue
        here = os.path.join(root, *done, part)
        if not os.path.islink(here):
            done.append(part)
            continue
        hops += 1
        if hops > 40:
            raise OSError(f"too many symbolic links resolving {path}")
        target = os.readlink(here)
        if target.startswith("/"):
            done = []
        pending = [p for p in target.split("/") if p] + pending
    return os.path.join(root, *done)


def systemd_running(root):
    """systemd's own test (sd_booted): /run/systemd/system exists."""
    return os.path.isdir(os.path.join(root, "run/systemd/system"))


def init_marker(root, init_path):
    """The vendor's test on the bytes of init_path: (system, evidence), or None when
    no marker is there. Raises OSError when the file cannot be read."""
    with open(resolve(root, init_path), "rb") as handle:
        content = handle.read()
    for marker, system in INIT_MARKERS:
        if marker in content:
            return system, f"{init_path} contains {marker.decode()!r}"
    return None


def agent_version(root, client_dir):
    """The installed agent's version, or None: Linux keeps it in <client_dir>/version,
    Windows as the newest version folder under %ProgramData%\\aliyun\\assist."""
    if salt.utils.platform.is_windows():
        base = os.path.join(os.environ.get("ProgramData", r"C:\ProgramData"), "aliyun", "assist")
        try:
            found = [d for d in os.listdir(base) if re.match(r"^\d+(\.\d+)+$", d)]
        except OSError:
            return None
        return max(found, key=lambda v: [int(p) for p in v.split(".")], default=None)
    try:
        with open(os.path.join(root, client_dir.lstrip("/"), "version"), encoding="utf-8") as handle:
            version = handle.readline().strip()
    except OSError:
        return None
    return version or None
