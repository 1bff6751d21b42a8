"""The host the containers run on: what it must offer, and how the harness runs its
commands (a known PATH, a timeout, never outliving the test process)."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

SANE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CGROUP_FS = Path("/sys/fs/cgroup")


def ensure_tools() -> None:
    """Raise RuntimeError naming exactly what is missing to run containers."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (euid is %d)" % os.geteuid())
    for tool in ("debootstrap", "systemd-nspawn", "nsenter", "unshare", "tar", "zstd"):
        if shutil.which(tool, path=host_env()["PATH"]) is None:
            problems.append("command %r not found (make system installs it: tests/deps.sh system)" % tool)
    for ns in ("pid", "user", "mnt", "uts", "ipc", "net"):
        if not Path("/proc/self/ns", ns).exists():
            problems.append("kernel lacks %s namespaces (/proc/self/ns/%s)" % (ns, ns))
    if not cgroup_hierarchies():
        problems.append("no writable cgroup hierarchy under /sys/fs/cgroup")
    if not problems:
        problems += _probe_namespaces()
    if problems:
        raise RuntimeError("cannot run init-system containers: " + "; ".join(problems))


def _probe_namespaces() -> list[str]:
    # Existing /proc/self/ns entries do not prove we may create namespaces
    # (seccomp or a missing CAP_SYS_ADMIN can forbid it): try once.
    try:
        proc = subprocess.run(
            ["unshare", "--mount", "--pid", "--uts", "--ipc", "--net", "--fork", "true"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ["cannot run unshare: %s" % exc]
    if proc.returncode != 0:
        return ["cannot create mount/pid/uts/ipc/net namespaces: %s" % proc.stderr.strip()]
    return []


def cgroup_hierarchies() -> list[Path]:
    """cgroup hierarchies nspawn uses: unified (v2) and name=systemd (v1)."""
    candidates = [CGROUP_FS / "unified", CGROUP_FS / "systemd"]
    if (CGROUP_FS / "cgroup.procs").exists():  # pure cgroup v2 host
        candidates = [CGROUP_FS]
    return [c for c in candidates if (c / "cgroup.procs").exists() and os.access(c, os.W_OK)]


def host_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = SANE_PATH + ":" + env.get("PATH", "")
    env.setdefault("LANG", "C.UTF-8")
    return env


def run_host(argv, timeout: float, env=None) -> None:
    """Run a host command; a failure raises RuntimeError with its output's end."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or host_env())
    if proc.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(argv), proc.returncode, (proc.stderr or proc.stdout)[-3000:]))


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGKILL when the test process dies (survives exec)."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def build_step(what: str, argv, cwd: Path, log: Path, env=None, timeout: float = 600) -> None:
    """Run one step of building `what` with its output in `log`; a failure raises
    RuntimeError with the log's end."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env or host_env(),
            timeout=timeout,
            preexec_fn=die_with_parent,
        )
    if proc.returncode != 0:
        raise RuntimeError(
            "building %s: `%s` in %s exited %d:\n%s"
            % (what, " ".join(argv), cwd, proc.returncode, log.read_text(errors="replace")[-4000:])
        )


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive lock held while building one cache entry."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def checked_source(sources: Path, name: str, what: str) -> tuple[bytes, str]:
    """The bytes of the third-party source `name` kept in `sources`, and their sha256,
    checked against the SHA256SUMS beside it. Raises RuntimeError naming the file (`what`
    says whose source it is) when it is unlisted, missing or differs. A build unpacks
    these very bytes, not the file read again."""
    sums_file = sources / "SHA256SUMS"
    try:
        listed = dict(reversed(line.split(None, 1)) for line in sums_file.read_text().splitlines() if line.strip())
    except OSError as exc:
        raise RuntimeError("cannot read %s: %s" % (sums_file, exc)) from exc
    path = sources / name
    if name not in listed:
        raise RuntimeError("%s is not listed in %s" % (name, sums_file))
    if not path.is_file():
        raise RuntimeError("%s %s is missing" % (what, path))
    data = path.read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != listed[name]:
        raise RuntimeError(
            "%s %s has sha256 %s, but SHA256SUMS says %s; refusing to build "
            "from it: restore the file (git checkout)" % (what, path, got, listed[name])
        )
    return data, got
