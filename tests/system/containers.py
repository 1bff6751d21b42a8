"""Boot real systemd and real sysvinit as PID 1 in systemd-nspawn containers.

Stdlib only. Meant for pytest fixtures in system tests:

    tarball = build_root("systemd", cache_dir())      # cached debootstrap root
    unpack_root(tarball, tmp / "root")
    with Container("systemd", tmp / "root", "assist-sd",
                   binds_ro=python_binds()) as box:
        box.run(["systemctl", "is-system-running"])

The host has no running systemd, so nspawn runs with `--register=no
--keep-unit`.  Each nspawn is started inside its own cgroup
(`assist-salt/<name>`), so the `payload`/`supervisor` cgroups it creates never
collide with another container's and are easy to remove afterwards.
Containers are still meant to run one at a time.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SUITE = "bookworm"
KINDS = ("systemd", "sysvinit")

# debootstrap --include lists per kind.  libssl3: the host Python's `ssl`
# module needs it when the interpreter is bind-mounted and run inside.
PACKAGES = {
    "systemd": ["systemd", "systemd-sysv", "dbus", "libssl3", "procps"],
    "sysvinit": ["sysvinit-core", "procps", "libssl3"],
}

# Bump when the fix-ups below change, so old cached tarballs are not reused.
ROOT_FORMAT = 3

SANE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CGROUP_BASE = "assist-salt"
CGROUP_FS = Path("/sys/fs/cgroup")
NSPAWN_RUN_DIR = Path("/run/systemd/nspawn")
# Names of cgroups nspawn (and systemd inside it) create and may leave behind.
STALE_CGROUP_NAMES = ("payload", "supervisor", "init.scope")

# Units that wait for a terminal or network, or run periodic jobs: masked so
# the systemd container boots quickly to "running" without console noise.
SYSTEMD_MASKED_UNITS = (
    "console-getty.service",
    "container-getty@.service",
    "getty@.service",
    "serial-getty@.service",
    "getty-static.service",
    "getty.target",
    "systemd-networkd-wait-online.service",
    "systemd-timesyncd.service",
    "systemd-firstboot.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "man-db.timer",
)


# --------------------------------------------------------------------------
# Host tools
# --------------------------------------------------------------------------

def ensure_tools() -> None:
    """Raise RuntimeError naming exactly what is missing to run containers."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (euid is %d)" % os.geteuid())
    for tool in ("debootstrap", "systemd-nspawn", "nsenter", "unshare",
                 "tar", "zstd"):
        if shutil.which(tool, path=_host_env()["PATH"]) is None:
            problems.append(
                "command %r not found (make system installs it: tests/deps.sh system)" % tool)
    for ns in ("pid", "user", "mnt", "uts", "ipc"):
        if not Path("/proc/self/ns", ns).exists():
            problems.append("kernel lacks %s namespaces (/proc/self/ns/%s)"
                            % (ns, ns))
    if not _cgroup_hierarchies():
        problems.append("no writable cgroup hierarchy under /sys/fs/cgroup")
    if not problems:
        problems += _probe_namespaces()
    if problems:
        raise RuntimeError("cannot run init-system containers: "
                           + "; ".join(problems))


def _probe_namespaces() -> list[str]:
    # Existing /proc/self/ns entries do not prove we may create namespaces
    # (seccomp or a missing CAP_SYS_ADMIN can forbid it): try once.
    try:
        proc = subprocess.run(["unshare", "--mount", "--pid", "--uts",
                               "--ipc", "--fork", "true"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ["cannot run unshare: %s" % exc]
    if proc.returncode != 0:
        return ["cannot create mount/pid/uts/ipc namespaces: %s"
                % proc.stderr.strip()]
    return []


def debian_mirror() -> str:
    """Debian mirror URL from this machine's apt sources.

    Reads deb822 `*.sources` files first, then classic `deb URL suite` lines;
    takes the first entry serving a plain suite (not `-security`/-updates).
    """
    entries = _deb822_entries() + _classic_entries()
    for uri, suites in entries:
        if any(_is_plain_suite(s) for s in suites) and "security" not in uri:
            return uri.rstrip("/")
    for uri, _suites in entries:
        if "debian" in uri and "security" not in uri:
            return uri.rstrip("/")
    raise RuntimeError("no Debian mirror found in /etc/apt/sources.list.d/"
                       "*.sources or /etc/apt/sources.list")


def _is_plain_suite(suite: str) -> bool:
    return bool(re.fullmatch(r"[a-z]+", suite))


def _deb822_entries() -> list[tuple[str, list[str]]]:
    entries = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", _read_text(path)):
            fields = _deb822_fields(stanza)
            if "deb" not in fields.get("types", "").split():
                continue
            if fields.get("enabled", "yes").lower() == "no":
                continue
            suites = fields.get("suites", "").split()
            for uri in fields.get("uris", "").split():
                entries.append((uri, suites))
    return entries


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = None
    for line in stanza.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0] in " \t" and key:          # continuation line
            fields[key] += " " + line.strip()
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        fields[key] = value.strip()
    return fields


def _classic_entries() -> list[tuple[str, list[str]]]:
    paths = [Path("/etc/apt/sources.list")]
    paths += sorted(Path("/etc/apt/sources.list.d").glob("*.list"))
    entries = []
    for path in paths:
        for line in _read_text(path).splitlines():
            line = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0])  # options
            words = line.split()
            if len(words) >= 3 and words[0] == "deb":
                entries.append((words[1], [words[2]]))
    return entries


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# --------------------------------------------------------------------------
# Root file systems: build, cache, unpack
# --------------------------------------------------------------------------

def cache_dir() -> Path:
    """Where root tarballs are cached ($ASSIST_ROOTS_CACHE overrides)."""
    env = os.environ.get("ASSIST_ROOTS_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "assist-salt" / "roots"


def root_tarball_path(kind: str, cache: Path | None = None) -> Path:
    """Cache path for a kind: keyed by suite, sorted packages, fix-up format."""
    _check_kind(kind)
    key = "%s|%s|%d" % (SUITE, ",".join(sorted(PACKAGES[kind])), ROOT_FORMAT)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(cache or cache_dir()) / ("%s-%s-%s.tar.zst"
                                         % (SUITE, kind, digest))


def build_root(kind: str, cache: Path | str | None = None,
               mirror: str | None = None) -> Path:
    """Return a cached tarball of a root of `kind`, building it if needed.

    The build happens in a temporary directory beside the cache file and the
    finished tarball is renamed into place, so a killed build never leaves a
    half-written cache entry.  A lock file serialises concurrent builders.
    """
    target = root_tarball_path(kind, Path(cache) if cache else None)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.with_name("." + target.name + ".lock")):
        if target.exists():                 # built by another process
            return target
        _remove_dead_builds(target.parent)
        work = target.parent / (".build-%s-%d" % (target.stem, os.getpid()))
        try:
            _remove_tree(work)
            root = work / "root"
            _debootstrap(kind, root, mirror or debian_mirror(), work / "log")
            fix_up_root(kind, root)
            verify_root(kind, root)
            _pack_root(root, work / "root.tar.zst")
            os.rename(work / "root.tar.zst", target)
        finally:
            _remove_tree(work)
    return target


def build_roots(kinds=KINDS, cache: Path | str | None = None) -> dict:
    """Build (or reuse) several roots in parallel; returns {kind: tarball}."""
    with concurrent.futures.ThreadPoolExecutor(len(kinds)) as pool:
        futures = {kind: pool.submit(build_root, kind, cache) for kind in kinds}
        return {kind: fut.result() for kind, fut in futures.items()}


def unpack_root(tarball: Path | str, dest: Path | str) -> Path:
    """Unpack a root tarball into `dest` (created; must be empty)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise RuntimeError("unpack_root: %s is not empty" % dest)
    _run_host(["tar", "--zstd", "-x", "-p", "--numeric-owner",
               "--xattrs", "--xattrs-include=*", "-f", str(tarball),
               "-C", str(dest)], timeout=300)
    return dest


def remove_root(root: Path | str) -> None:
    """Delete an unpacked root, unmounting anything left inside first."""
    _remove_tree(Path(root))


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError("kind must be one of %s, not %r" % (KINDS, kind))


def _debootstrap(kind: str, root: Path, mirror: str, log: Path) -> None:
    # In its own mount and PID namespace: if we are killed, unshare dies
    # (parent-death signal), its child gets SIGKILL (--kill-child), which
    # ends every process of the build, and the proc/sys mounts debootstrap
    # made inside the target vanish with the mount namespace.
    argv = ["unshare", "--mount", "--pid", "--fork", "--kill-child",
            "--mount-proc", "--",
            "debootstrap", "--variant=minbase",
            "--include=" + ",".join(PACKAGES[kind]),
            SUITE, str(root), mirror]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=1800,
                              env=_host_env(), preexec_fn=_die_with_parent)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        debootstrap_log = root / "debootstrap" / "debootstrap.log"
        if debootstrap_log.exists():
            tail += "\n--- debootstrap.log ---\n" + \
                debootstrap_log.read_text(errors="replace")[-3000:]
        raise RuntimeError("debootstrap of %s root failed (exit %d):\n%s"
                           % (kind, proc.returncode, tail))


def _die_with_parent() -> None:
    # Runs between fork and exec; the setting survives exec.
    import ctypes
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def fix_up_root(kind: str, root: Path) -> None:
    """Make a fresh root boot quickly and quietly in nspawn."""
    hostname = "assist-" + kind
    _in_root(root, "/etc/hostname").write_text(hostname + "\n")
    _add_hosts_entry(root, hostname)
    _drop_apt_caches(root)
    if kind == "systemd":
        _fix_up_systemd(root)
    else:
        _fix_up_sysvinit(root)


def _drop_apt_caches(root: Path) -> None:
    # Downloaded .debs and package lists (about 50 MB) are not needed to
    # boot; `apt-get update` inside the container restores the lists.
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin",
                    "var/lib/apt/lists/*_*"):
        for path in root.glob(pattern):
            path.unlink()


def _add_hosts_entry(root: Path, hostname: str) -> None:
    hosts = _in_root(root, "/etc/hosts")
    text = _read_text(hosts) or "127.0.0.1\tlocalhost\n"
    if hostname not in text.split():
        text = text.rstrip("\n") + "\n127.0.1.1\t%s\n" % hostname
    hosts.write_text(text)


def _fix_up_systemd(root: Path) -> None:
    unit_dir = _in_root(root, "/etc/systemd/system")
    unit_dir.mkdir(parents=True, exist_ok=True)
    for unit in SYSTEMD_MASKED_UNITS:
        link = unit_dir / unit
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to("/dev/null")
    default = unit_dir / "default.target"
    if default.is_symlink() or default.exists():
        default.unlink()
    default.symlink_to("/lib/systemd/system/multi-user.target")
    # Wants-links to masked getty units would only produce warnings.
    shutil.rmtree(unit_dir / "getty.target.wants", ignore_errors=True)


def _fix_up_sysvinit(root: Path) -> None:
    _set_tmptime_forever(_in_root(root, "/etc/default/rcS"))
    _comment_out_gettys(_in_root(root, "/etc/inittab"))
    # The container shares the host's network and clock: its shutdown must
    # not try to take interfaces down (`halt -i`) or write the RTC.
    _set_shell_var(_in_root(root, "/etc/default/halt"), "NETDOWN", "no")
    _set_shell_var(_in_root(root, "/etc/default/hwclock"),
                   "HWCLOCKACCESS", "no")
    # Otherwise the first boot creates it, with a warning on the console.
    mtab = _in_root(root, "/etc") / "mtab"
    if not mtab.is_symlink():
        with contextlib.suppress(FileNotFoundError):
            mtab.unlink()
        mtab.symlink_to("../proc/self/mounts")


def _set_tmptime_forever(rcs: Path) -> None:
    # TMPTIME=-1: boot-time cleaning of /tmp must leave bind mounts alone.
    _set_shell_var(rcs, "TMPTIME", "-1")


def _set_shell_var(path: Path, name: str, value: str) -> None:
    """Set NAME=value in a /etc/default-style file, replacing old lines."""
    lines = [ln for ln in _read_text(path).splitlines()
             if not re.match(r"\s*#?\s*%s=" % re.escape(name), ln)]
    lines.append("%s=%s" % (name, value))
    path.write_text("\n".join(lines) + "\n")


def _comment_out_gettys(inittab: Path) -> None:
    # Field 4 of inittab is the process; gettys would fight over the console.
    out = []
    for line in _read_text(inittab).splitlines():
        fields = line.split(":", 3)
        if not line.startswith("#") and len(fields) == 4 and "getty" in fields[3]:
            line = "#" + line
        out.append(line)
    inittab.write_text("\n".join(out) + "\n")


def verify_root(kind: str, root: Path) -> None:
    """Check a root really has the init system it claims to have."""
    init = read_in_root(root, "/sbin/init")
    has_systemd = _exists_in_root(root, "/lib/systemd/systemd")
    if not _exists_in_root(root, "/usr/lib/x86_64-linux-gnu/libssl.so.3") and \
            not list(root.glob("usr/lib/*/libssl.so.3")):
        raise RuntimeError("%s root lacks libssl3" % kind)
    if kind == "sysvinit":
        if b"sysvinit" not in init:
            raise RuntimeError("sysvinit root: /sbin/init is not sysvinit's")
        if has_systemd:
            raise RuntimeError("sysvinit root unexpectedly contains systemd")
    elif not has_systemd or b"/lib/system" not in init:
        raise RuntimeError("systemd root: /sbin/init is not systemd")


def _resolve_in_root(root: Path, path: str, depth: int = 0) -> Path:
    """Resolve `path` as the container would, following symlinks inside root.

    Needed because e.g. /sbin/init -> /lib/systemd/systemd is absolute and
    would resolve against the host if followed naively.
    """
    if depth > 40:
        raise RuntimeError("symlink loop resolving %s in %s" % (path, root))
    current = "/"
    parts = [p for p in path.split("/") if p]
    for i, part in enumerate(parts):
        candidate = os.path.normpath(os.path.join(current, part))
        host = root / candidate.lstrip("/")
        if host.is_symlink():
            target = os.readlink(host)
            if not target.startswith("/"):
                target = os.path.join(current, target)
            rest = "/".join(parts[i + 1:])
            return _resolve_in_root(root, os.path.join(target, rest), depth + 1)
        current = candidate
    return root / current.lstrip("/")


def _in_root(root: Path, path: str) -> Path:
    """Host path of a file in the root, never escaping it via symlinks
    (fix-ups write files; an absolute link must not redirect to the host)."""
    return _resolve_in_root(root, path)


def read_in_root(root: Path, path: str) -> bytes:
    """Contents of `path` as the container sees it ("" if missing)."""
    try:
        return _resolve_in_root(root, path).read_bytes()
    except OSError:
        return b""


def _exists_in_root(root: Path, path: str) -> bool:
    return _resolve_in_root(root, path).exists()


def _pack_root(root: Path, out: Path) -> None:
    env = _host_env()
    env["ZSTD_NBTHREADS"] = str(os.cpu_count() or 1)
    _run_host(["tar", "--zstd", "-c", "--numeric-owner", "--xattrs",
               "--xattrs-include=*", "--exclude=*.deb",
               "-f", str(out), "-C", str(root), "."], timeout=600, env=env)


@contextlib.contextmanager
def _file_lock(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_dead_builds(directory: Path) -> None:
    """Remove `.build-*-PID` dirs left by builders that were killed."""
    for work in directory.glob(".build-*"):
        pid = work.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            _remove_tree(work)


def _remove_tree(path: Path) -> None:
    """rm -rf that first unmounts anything below `path`.

    debootstrap mounts /proc and /sys in its target; deleting through such a
    mount would attack the host, so refuse if anything stays mounted.
    """
    if not path.exists() and not path.is_symlink():
        return
    unmount_under(path)
    if _mounts_under(path):
        raise RuntimeError("refusing to delete %s: still has mounts %s"
                           % (path, _mounts_under(path)))
    shutil.rmtree(path)


# --------------------------------------------------------------------------
# Host Python inside containers
# --------------------------------------------------------------------------

def python_binds() -> list[str]:
    """Directories to bind read-only so this interpreter runs inside.

    The interpreter's install (sys.base_prefix, e.g. pyenv's) and the
    virtualenv (sys.prefix), each at its own path; nested ones collapse.
    """
    paths = []
    for prefix in (sys.base_prefix, sys.prefix):
        for path in {os.path.abspath(prefix), os.path.realpath(prefix)}:
            if path not in paths:
                paths.append(path)
    paths.sort()
    kept: list[str] = []
    for path in paths:
        if not any(path == k or path.startswith(k + "/") for k in kept):
            kept.append(path)
    return kept


def venv_python() -> str:
    """Path of the running virtualenv's python (usable inside containers)."""
    return os.path.join(sys.prefix, "bin", "python")


# --------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------

class ContainerError(RuntimeError):
    """Boot or shutdown failure; the message includes nspawn's output."""


class ContainerCommandError(subprocess.CalledProcessError):
    """A command inside the container failed; str() shows its output."""

    def __str__(self):
        return "%s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            super().__str__(), self.stdout, self.stderr)


class Container:
    """One systemd-nspawn container running a real init as PID 1."""

    def __init__(self, kind: str, root_dir, name: str, binds_ro=(), binds=(),
                 log_path=None, boot_timeout: float = 90,
                 extra_args=()):
        _check_kind(kind)
        self.kind = kind
        self.root = Path(root_dir).resolve()
        self.name = name
        self.binds_ro = list(binds_ro)
        self.binds = list(binds)
        self.boot_timeout = boot_timeout
        self.extra_args = list(extra_args)
        self.log_path = Path(log_path) if log_path else \
            self.root.parent / (name + ".nspawn.log")
        self.proc: subprocess.Popen | None = None
        self.leader_pid: int | None = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self):
        self.boot()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def boot(self) -> "Container":
        """Start nspawn and wait until the init system has finished booting."""
        if self.running:
            raise ContainerError("%s is already running" % self.name)
        cleanup_stale(names=[self.name], roots=[self.root])
        cgroups = _make_own_cgroups(self.name)
        with open(self.log_path, "ab") as log:
            log.write(b"=== boot %s ===\n" % time.ctime().encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.nspawn_argv(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=_nspawn_env(),
                preexec_fn=lambda: _join_cgroups(cgroups))
        try:
            self.leader_pid = self._wait_for_leader()
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def nspawn_argv(self) -> list[str]:
        argv = ["systemd-nspawn", "-D", str(self.root), "-M", self.name,
                "--console=passive", "--register=no", "--keep-unit",
                "--resolv-conf=copy-host", "--timezone=off"]
        argv += ["--bind-ro=" + _bind_spec(b) for b in self.binds_ro]
        argv += ["--bind=" + _bind_spec(b) for b in self.binds]
        argv += self.extra_args
        if self.kind == "systemd":
            argv.append("-b")
        else:
            # Name /sbin/init explicitly, or nspawn would look for systemd.
            argv += ["--kill-signal=SIGKILL", "/sbin/init"]
        return argv

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def poweroff(self, timeout: float = 30) -> None:
        """Shut down cleanly from inside, falling back to stop()."""
        if not self.running:
            self.stop()
            return
        if self.kind == "systemd":
            self.run(["systemctl", "--no-block", "poweroff"], check=False,
                     timeout=15)
        else:
            # Runs the rc0 scripts, whose final `halt` ends the namespace.
            self.run(["telinit", "0"], check=False, timeout=15)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.stop()

    def stop(self, timeout: float = 20) -> None:
        """Stop the container (SIGTERM nspawn, then SIGKILL) and clean up.

        Safe to call repeatedly and after a failed boot.
        """
        try:
            if self.running:
                self._terminate(timeout)
        finally:
            self.proc = None
            self.leader_pid = None
            cleanup_stale(names=[self.name], roots=[self.root])

    def reboot(self) -> "Container":
        """Stop, then boot again on the same root."""
        self.stop()
        return self.boot()

    def _terminate(self, timeout: float) -> None:
        # SIGTERM makes nspawn send the kill signal to the container's init
        # (SIGRTMIN+3 = clean poweroff for systemd, SIGKILL for sysvinit).
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            pass
        # Killing only nspawn would orphan the container: kill its PID 1
        # first, which takes down the whole PID namespace.
        if self.leader_pid and _pid_alive(self.leader_pid):
            _kill(self.leader_pid, signal.SIGKILL)
        _kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    # -- commands inside ---------------------------------------------------

    def run(self, argv, check: bool = True, timeout: float = 60,
            input=None, env=None, text: bool = True
            ) -> subprocess.CompletedProcess:
        """Run argv (a list, never a shell string) inside the container.

        Output is captured (str, or bytes with text=False).  On timeout only
        nsenter is killed; the command may linger inside until shutdown.
        """
        if not self.leader_pid:
            raise ContainerError("%s is not running" % self.name)
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a list of arguments")
        full_env = {"PATH": SANE_PATH, "LANG": "C.UTF-8", "HOME": "/root",
                    "TERM": "dumb"}
        full_env.update(env or {})
        cmd = ["nsenter", "-t", str(self.leader_pid), "-a", "--"]
        cmd += [str(a) for a in argv]
        proc = subprocess.run(cmd, capture_output=True, text=text,
                              input=input, timeout=timeout, env=full_env,
                              stdin=None if input is not None
                              else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise ContainerCommandError(proc.returncode, list(argv),
                                        proc.stdout, proc.stderr)
        return proc

    def log(self) -> str:
        """nspawn's output (console of the container) so far."""
        return _read_text(self.log_path)

    # -- boot helpers --------------------------------------------------------

    def _deadline_error(self, what: str) -> ContainerError:
        return ContainerError("%s container %s: %s\n--- nspawn output (%s) ---"
                              "\n%s" % (self.kind, self.name, what,
                                        self.log_path, self.log()[-6000:]))

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise self._deadline_error(
                "systemd-nspawn exited with %s during boot"
                % self.proc.returncode)

    def _wait_for_leader(self) -> int:
        # The container's PID 1 is nspawn's child in a new PID namespace
        # (nspawn's first, short-lived child still shares our namespace).
        deadline = time.monotonic() + self.boot_timeout
        own_ns = os.readlink("/proc/self/ns/pid")
        while time.monotonic() < deadline:
            self._check_alive()
            for pid in _children(self.proc.pid):
                try:
                    if os.readlink("/proc/%d/ns/pid" % pid) != own_ns:
                        return pid
                except OSError:
                    continue
            time.sleep(0.05)
        raise self._deadline_error("no container PID 1 after %ss"
                                   % self.boot_timeout)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.boot_timeout
        state = "unknown"
        while time.monotonic() < deadline:
            self._check_alive()
            ready, state = self._boot_state()
            if ready:
                return
            time.sleep(0.2)
        raise self._deadline_error("not ready after %ss (last state: %s)"
                                   % (self.boot_timeout, state))

    def _boot_state(self) -> tuple[bool, str]:
        if self.kind == "systemd":
            out = self._try_run(["systemctl", "is-system-running"])
            return out in ("running", "degraded"), out
        # sysvinit: runlevel reached and no rc script still running (init
        # records the runlevel before it runs `/etc/init.d/rc N`).
        level = self._try_run(["runlevel"])
        rc_busy = any("/etc/init.d/rc" in _cmdline(pid)
                      for pid in _descendants(self.leader_pid))
        ready = bool(re.fullmatch(r"\S [1-5]", level)) and not rc_busy
        return ready, "runlevel %r, rc running: %s" % (level, rc_busy)

    def _try_run(self, argv) -> str:
        try:
            return self.run(argv, check=False, timeout=10).stdout.strip()
        except subprocess.TimeoutExpired:
            return "timeout"


def _bind_spec(bind) -> str:
    """A path (bound at the same path) or a (host, container) pair."""
    src, dst = (bind, bind) if isinstance(bind, (str, Path)) else bind
    src, dst = str(src), str(dst)
    # nspawn splits its --bind argument on ':'.
    if ":" in src or ":" in dst or not src.startswith("/") \
            or not dst.startswith("/"):
        raise ValueError("bind paths must be absolute and free of ':': %r"
                         % (bind,))
    return src if src == dst else "%s:%s" % (src, dst)


# --------------------------------------------------------------------------
# Cleanup
# --------------------------------------------------------------------------

def cleanup_stale(names=(), roots=()) -> None:
    """Remove leftovers of earlier containers so the next boot succeeds.

    Kills nspawn processes of the given machine names or roots, unmounts
    anything left below the roots, removes /run/systemd/nspawn leftovers and
    removes process-free `payload`/`supervisor`/`init.scope` cgroups and our
    own `assist-salt/NAME` ones depth-first.  A stale cgroup makes the next
    systemd boot fail ("Failed to attach ... compat systemd cgroup").
    Best effort: never raises; use stale_leftovers() to assert.
    """
    roots = [Path(r) for r in roots]
    _kill_nspawns(names, roots)
    for root in roots:
        unmount_under(root)
    _remove_nspawn_run_dir(names)
    for name in names:
        _wait_cgroups_empty(name, timeout=10)
    remove_stale_cgroups()


def stale_leftovers(names=(), roots=()) -> list[str]:
    """Describe leftovers of containers with these names or roots, plus
    stale cgroups and /run/systemd/nspawn (for test assertions)."""
    roots = [Path(r).resolve() for r in roots]
    found = ["nspawn pid %d" % pid for pid in _nspawn_pids()
             if _is_our_nspawn(pid, names, roots)]
    for root in roots:
        found += ["mount %s" % m for m in _mounts_under(Path(root))]
    found += ["cgroup %s" % c for c in _stale_cgroups()]
    found += ["cgroup %s" % c for c in _own_cgroup_dirs()]
    if _nspawn_pids():      # someone else's container: only look at ours
        found += [str(NSPAWN_RUN_DIR / sub / name) for name in names
                  for sub in ("propagate", "unix-export")
                  if (NSPAWN_RUN_DIR / sub / name).exists()]
    elif NSPAWN_RUN_DIR.exists():
        found.append(str(NSPAWN_RUN_DIR))
    return found


def _remove_nspawn_run_dir(names) -> None:
    # nspawn tries to clean this itself but refuses when /run is not a tmpfs
    # ("Attempted to remove disk file system under ...").
    if _nspawn_pids():
        targets = [NSPAWN_RUN_DIR / sub / name for name in names
                   for sub in ("propagate", "unix-export")]
    else:
        targets = [NSPAWN_RUN_DIR]
    for target in targets:
        unmount_under(target)
        if not _mounts_under(target):
            shutil.rmtree(target, ignore_errors=True)


def _kill_nspawns(names, roots) -> None:
    for pid in _nspawn_pids():
        if _is_our_nspawn(pid, names, roots):
            for child in _descendants(pid):
                _kill(child, signal.SIGKILL)
            _kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10)


def _is_our_nspawn(pid: int, names, roots) -> bool:
    """Whether nspawn `pid` runs machine NAME or a root at/below ROOTS."""
    args = _cmdline_args(pid)
    name = _option_value(args, "-M", "--machine")
    directory = _option_value(args, "-D", "--directory")
    if name is not None and name in names:
        return True
    if directory is None:
        return False
    directory = os.path.realpath(directory)
    return any(directory == str(r) or directory.startswith(str(r) + "/")
               for r in (Path(x).resolve() for x in roots))


def _option_value(args, short, long):
    for i, arg in enumerate(args):
        if arg in (short, long) and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(long + "="):
            return arg.split("=", 1)[1]
    return None


def _nspawn_pids() -> list[int]:
    return [pid for pid in _all_pids()
            if _comm(pid) == "systemd-nspawn"]


def unmount_under(path: Path) -> None:
    """Lazily unmount every mount at or below `path`, deepest first."""
    for mount in sorted(_mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)


def _mounts_under(path: Path) -> list[str]:
    base = os.path.realpath(path)
    found = []
    for line in _read_text(Path("/proc/self/mountinfo")).splitlines():
        mount_point = _unescape_mount(line.split()[4])
        if mount_point == base or mount_point.startswith(base + "/"):
            found.append(mount_point)
    return found


def _unescape_mount(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _cgroup_hierarchies() -> list[Path]:
    """cgroup hierarchies nspawn uses: unified (v2) and name=systemd (v1)."""
    candidates = [CGROUP_FS / "unified", CGROUP_FS / "systemd"]
    if (CGROUP_FS / "cgroup.procs").exists():        # pure cgroup v2 host
        candidates = [CGROUP_FS]
    return [c for c in candidates
            if (c / "cgroup.procs").exists() and os.access(c, os.W_OK)]


def _own_cgroup_path(hierarchy: Path, name: str) -> Path:
    # Under the cgroup we run in, so it works inside a delegated subtree too.
    return _current_cgroup(hierarchy) / CGROUP_BASE / name


def _current_cgroup(hierarchy: Path) -> Path:
    v1_name = "name=systemd" if hierarchy.name == "systemd" else None
    for line in _read_text(Path("/proc/self/cgroup")).splitlines():
        _id, controllers, path = line.split(":", 2)
        if (v1_name and v1_name in controllers.split(",")) or \
                (not v1_name and controllers == ""):
            return hierarchy / path.lstrip("/")
    return hierarchy


def _make_own_cgroups(name: str) -> list[Path]:
    paths = []
    for hierarchy in _cgroup_hierarchies():
        path = _own_cgroup_path(hierarchy, name)
        path.mkdir(parents=True, exist_ok=True)
        paths.append(path)
    return paths


def _join_cgroups(paths) -> None:
    # Runs in the child between fork and exec: move it into its own cgroup,
    # so nspawn creates payload/supervisor there instead of in ours.
    for path in paths:
        with open(path / "cgroup.procs", "w") as procs:
            procs.write(str(os.getpid()))


def _stale_cgroups() -> list[Path]:
    """Process-free cgroup subtrees left by nspawn, outermost first.

    Generic `payload`/`supervisor`/`init.scope` names are only collected when
    the host does not run systemd (where such names are nspawn's), and
    never inside another live container's `assist-salt/NAME` cgroup.
    """
    host_systemd = Path("/run/systemd/system").is_dir()
    live = _live_machine_names()
    found = []
    for hierarchy in _cgroup_hierarchies():
        for dirpath, dirnames, _files in os.walk(hierarchy):
            path = Path(dirpath)
            if path.parent.name == CGROUP_BASE:
                if path.name not in live and not _cgroup_has_procs(path):
                    found.append(path)
                dirnames.clear()      # a container's subtree is one unit
            elif path.name in STALE_CGROUP_NAMES and not host_systemd:
                if not _cgroup_has_procs(path):
                    found.append(path)
                dirnames.clear()
    return found


def _own_cgroup_dirs() -> list[Path]:
    """Our `assist-salt` parent cgroups (removable once empty)."""
    return [path for hierarchy in _cgroup_hierarchies()
            for path in hierarchy.rglob(CGROUP_BASE) if path.is_dir()]


def _live_machine_names() -> set:
    names = set()
    for pid in _nspawn_pids():
        name = _option_value(_cmdline_args(pid), "-M", "--machine")
        if name:
            names.add(name)
    return names


def remove_stale_cgroups() -> None:
    for top in _stale_cgroups():
        _rmdir_cgroup_tree(top)
    for parent in _own_cgroup_dirs():
        with contextlib.suppress(OSError):      # not empty: still in use
            os.rmdir(parent)


def _rmdir_cgroup_tree(top: Path) -> None:
    # cgroup dirs can only be removed empty: children first (depth-first).
    # EBUSY means a process appeared meanwhile: leave it for next time.
    for dirpath, _dirnames, _files in os.walk(top, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)


def _wait_cgroups_empty(name: str, timeout: float) -> None:
    # Processes of a SIGKILLed PID namespace take a moment to leave.
    deadline = time.monotonic() + timeout
    paths = [_own_cgroup_path(h, name) for h in _cgroup_hierarchies()]
    while any(p.exists() and _cgroup_has_procs(p) for p in paths):
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _cgroup_has_procs(top: Path) -> bool:
    for dirpath, _dirnames, _files in os.walk(top):
        if _read_text(Path(dirpath) / "cgroup.procs").strip():
            return True
    return False


# --------------------------------------------------------------------------
# /proc helpers
# --------------------------------------------------------------------------

def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _stat_fields(pid: int) -> list[str]:
    # comm (field 2) may contain spaces or ')', so split after the last ')'.
    text = _read_text(Path("/proc/%d/stat" % pid))
    return text[text.rfind(")") + 2:].split() if text else []


def _ppid(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[1]) if len(fields) > 1 else -1


def _comm(pid: int) -> str:
    return _read_text(Path("/proc/%d/comm" % pid)).strip()


def _cmdline_args(pid: int) -> list[str]:
    try:
        raw = Path("/proc/%d/cmdline" % pid).read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _cmdline(pid: int) -> str:
    return " ".join(_cmdline_args(pid))


def _children(pid: int) -> list[int]:
    return [p for p in _all_pids() if _ppid(p) == pid]


def _descendants(pid: int) -> list[int]:
    parents = {}
    for p in _all_pids():
        parents.setdefault(_ppid(p), []).append(p)
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _pid_alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != "Z"


def _kill(pid: int, sig) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


# --------------------------------------------------------------------------
# Misc
# --------------------------------------------------------------------------

def _host_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = SANE_PATH + ":" + env.get("PATH", "")
    env.setdefault("LANG", "C.UTF-8")
    return env


def _nspawn_env() -> dict:
    # nspawn hands TERM to the container; "dumb" keeps colour codes out of
    # the console log.
    env = _host_env()
    env["TERM"] = "dumb"
    return env


def _run_host(argv, timeout: float, env=None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, env=env or _host_env())
    if proc.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s"
                           % (" ".join(argv), proc.returncode,
                              (proc.stderr or proc.stdout)[-3000:]))
