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
    """Where `path` of the system mounted at `root` lies on this host. Symbolic links are
    followed one component at a time, so an absolute link never leads out of the root."""
    if root == "/":  # the host's own system: the kernel follows the links
        return "/" + path.lstrip("/")  # relative to the root, as the walk below takes it
    pending = [part for part in reversed(path.split("/")) if part]  # a stack: next part last
    done = ""
    hops = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            done = done.rpartition("/")[0]
            continue
        try:
            target = os.readlink(f"{root}{done}/{part}")
        except OSError:  # not a link (or not there): taken as it is
            done = f"{done}/{part}"
            continue
        hops += 1
        if hops > 40:
            raise OSError(f"too many symbolic links resolving {path}")
        if target.startswith("/"):
            done = ""
        pending.extend(part for part in reversed(target.split("/")) if part)
    return f"{root}{done}"


def systemd_running(root):
    """systemd's own test (sd_booted): /run/systemd/system exists."""
    return os.path.isdir(os.path.join(root, "run/systemd/system"))


def init_marker(root, init_path):
    """The vendor's test on the bytes of init_path: (system, evidence), or None when
    no marker is there. Raises OSError when the file cannot be read."""
    fd = os.open(resolve(root, init_path), os.O_RDONLY)
    try:  # one read(2) returns a regular file whole; half the cost of a file object's
        content = os.read(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
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
