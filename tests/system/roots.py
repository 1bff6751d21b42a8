"""Root file systems for the containers: built with debootstrap, cached, unpacked.

    tarball = build_root("sysvinit")            # cached in ~/.cache/assist-salt/roots
    unpack_root(tarball, tmp / "root")
    make_upstart_root(tmp / "root", build_upstart(["1.13.2"])["1.13.2"], "assist-upstart")

systemd and sysvinit roots come from debootstrap (about a minute each, once): Debian 12
(bookworm), and for the systemd releases fleets also run, systemd 247 from Debian 11
(bullseye) and systemd 257 from Debian 13 (trixie), from the same mirror (this
machine's apt sources);
an UpStart root is made from an unpacked sysvinit root on every run (a few
seconds), with UpStart's programs over sysvinit's and a few jobs that stand in
for the boot chain Ubuntu had (tests/system/upstart/jobs).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.system import host
from tests.system.apt_sources import debian_mirror
from tests.system.cleanup import remove_dead_builds, remove_tree
from tests.system.procs import read_text

# The Debian release each kind is bootstrapped from.
SUITES = {"systemd": "bookworm", "sysvinit": "bookworm", "systemd-247": "bullseye", "systemd-257": "trixie"}
KINDS = tuple(SUITES)

# debootstrap --include lists per kind.  libssl3 (trixie: libssl3t64), and trixie's
# libffi8 (its minbase lacks it): the host Python's `ssl` and `ctypes` need them when
# the interpreter is bind-mounted and run on the root's own libraries. Bullseye's C
# library is older than the one the host Python needs: there it runs on the host's
# libraries (tests/system/conftest.py, ON_HOST_LIBC), and the stand-in watchdog on the
# root's own python3.
PACKAGES = {
    "systemd": ["systemd", "systemd-sysv", "dbus", "libssl3", "procps"],
    "sysvinit": ["sysvinit-core", "procps", "libssl3"],
    "systemd-247": ["systemd", "systemd-sysv", "dbus", "procps", "python3-minimal"],
    "systemd-257": ["systemd", "systemd-sysv", "dbus", "libssl3t64", "libffi8", "procps"],
}


def init_of(kind: str) -> str:
    """The init system of a root kind: systemd-247 is systemd."""
    return kind.split("-")[0]


# Bump when the fix-ups below change, so old cached tarballs are not reused.
ROOT_FORMAT = 3

# Jobs of the UpStart roots: startup -> runlevel 2, runlevel 0/6 -> halt/reboot,
# SIGPWR -> shutdown (files of their own, read by a newcomer as they are).
UPSTART_JOBS = Path(__file__).resolve().parent / "upstart" / "jobs"

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


def cache_dir() -> Path:
    """Where root tarballs are cached ($ASSIST_ROOTS_CACHE overrides)."""
    env = os.environ.get("ASSIST_ROOTS_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "assist-salt" / "roots"


def root_tarball_path(kind: str, cache: Path | None = None) -> Path:
    """Cache path for a kind: keyed by suite, sorted packages, fix-up format."""
    if kind not in KINDS:
        raise ValueError("kind must be one of %s, not %r" % (KINDS, kind))
    key = "%s|%s|%d" % (SUITES[kind], ",".join(sorted(PACKAGES[kind])), ROOT_FORMAT)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(cache or cache_dir()) / ("%s-%s-%s.tar.zst" % (SUITES[kind], init_of(kind), digest))


def build_root(kind: str, cache: Path | str | None = None, mirror: str | None = None) -> Path:
    """Return a cached tarball of a root of `kind`, building it if needed.

    The build happens in a temporary directory beside the cache file and the
    finished tarball is renamed into place, so a killed build never leaves a
    half-written cache entry.  A lock file serialises concurrent builders.
    """
    target = root_tarball_path(kind, Path(cache) if cache else None)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with host.file_lock(target.with_name("." + target.name + ".lock")):
        if target.exists():  # built by another process
            return target
        remove_dead_builds(target.parent)
        work = target.parent / (".build-%s-%d" % (target.stem, os.getpid()))
        try:
            remove_tree(work)
            root = work / "root"
            _debootstrap(kind, root, mirror or debian_mirror(), work / "log")
            fix_up_root(kind, root)
            verify_root(kind, root)
            _pack_root(root, work / "root.tar.zst")
            os.rename(work / "root.tar.zst", target)
        finally:
            remove_tree(work)
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
    host.run_host(
        ["tar", "--zstd", "-x", "-p", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-f", str(tarball), "-C", str(dest)],
        timeout=300,
    )
    return dest


def remove_root(root: Path | str) -> None:
    """Delete an unpacked root, unmounting anything left inside first."""
    remove_tree(Path(root))


def _debootstrap(kind: str, root: Path, mirror: str, log: Path) -> None:
    # In its own mount and PID namespace: if we are killed, unshare dies
    # (parent-death signal), its child gets SIGKILL (--kill-child), which
    # ends every process of the build, and the proc/sys mounts debootstrap
    # made inside the target vanish with the mount namespace.
    argv = [
        "unshare",
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--",
        "debootstrap",
        "--variant=minbase",
        "--include=" + ",".join(PACKAGES[kind]),
        SUITES[kind],
        str(root),
        mirror,
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.run(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=1800,
            env=host.host_env(),
            preexec_fn=host.die_with_parent,
        )
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        debootstrap_log = root / "debootstrap" / "debootstrap.log"
        if debootstrap_log.exists():
            tail += "\n--- debootstrap.log ---\n" + debootstrap_log.read_text(errors="replace")[-3000:]
        raise RuntimeError("debootstrap of %s root failed (exit %d):\n%s" % (kind, proc.returncode, tail))


def fix_up_root(kind: str, root: Path) -> None:
    """Make a fresh root boot quickly and quietly in nspawn."""
    _set_hostname(root, "assist-" + kind)
    _drop_apt_caches(root)
    if init_of(kind) == "systemd":
        _fix_up_systemd(root)
    else:
        _fix_up_sysvinit(root)


def _drop_apt_caches(root: Path) -> None:
    # Downloaded .debs and package lists (about 50 MB) are not needed to
    # boot; `apt-get update` inside the container restores the lists.
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*"):
        for path in root.glob(pattern):
            path.unlink()


def _set_hostname(root: Path, hostname: str) -> None:
    _in_root(root, "/etc/hostname").write_text(hostname + "\n")
    _add_hosts_entry(root, hostname)


def _add_hosts_entry(root: Path, hostname: str) -> None:
    hosts = _in_root(root, "/etc/hosts")
    text = read_text(hosts) or "127.0.0.1\tlocalhost\n"
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
    _set_shell_var(_in_root(root, "/etc/default/hwclock"), "HWCLOCKACCESS", "no")
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
    lines = [ln for ln in read_text(path).splitlines() if not re.match(r"\s*#?\s*%s=" % re.escape(name), ln)]
    lines.append("%s=%s" % (name, value))
    path.write_text("\n".join(lines) + "\n")


def _comment_out_gettys(inittab: Path) -> None:
    # Field 4 of inittab is the process; gettys would fight over the console.
    out = []
    for line in read_text(inittab).splitlines():
        fields = line.split(":", 3)
        if not line.startswith("#") and len(fields) == 4 and "getty" in fields[3]:
            line = "#" + line
        out.append(line)
    inittab.write_text("\n".join(out) + "\n")


def verify_root(kind: str, root: Path) -> None:
    """Check a root really has the init system it claims to have."""
    init = read_in_root(root, "/sbin/init")
    has_systemd = _exists_in_root(root, "/lib/systemd/systemd")
    wants_ssl = any(package.startswith("libssl3") for package in PACKAGES[kind])
    if wants_ssl and not list(root.glob("usr/lib/*/libssl.so.3")):
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
            rest = "/".join(parts[i + 1 :])
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
    env = host.host_env()
    env["ZSTD_NBTHREADS"] = str(os.cpu_count() or 1)
    host.run_host(
        [
            "tar",
            "--zstd",
            "-c",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "--exclude=*.deb",
            "-f",
            str(out),
            "-C",
            str(root),
            ".",
        ],
        timeout=600,
        env=env,
    )


# --------------------------------------------------------------------------
# UpStart roots, made from an unpacked sysvinit root


def make_upstart_root(root: Path, build: Path, hostname: str) -> None:
    """Turn an unpacked sysvinit root into an UpStart one.

    `build` is a cached UpStart build (tests/system/upstart_build.py): its
    programs replace sysvinit's, its Debian libraries are installed with dpkg,
    and the jobs of tests/system/upstart/jobs take the place of Ubuntu's boot
    chain (mountall, rc-sysinit, rc), which only emit events this minimal
    system does not need.
    """
    root = Path(root)
    _install_debs(root, sorted((build / "debs").glob("*.deb")))
    sbin = _in_root(root, "/sbin")
    for program in sorted((build / "sbin").iterdir()):
        target = sbin / program.name
        if target.is_symlink() or target.exists():
            target.unlink()
        shutil.copy2(program, target, follow_symlinks=False)
    jobs = _in_root(root, "/etc/init")
    jobs.mkdir(parents=True, exist_ok=True)
    for job in sorted(UPSTART_JOBS.glob("*.conf")):
        shutil.copy2(job, jobs / job.name)
    _in_root(root, "/var/log/upstart").mkdir(parents=True, exist_ok=True)
    _set_hostname(root, hostname)
    if b"upstart" not in read_in_root(root, "/sbin/init"):
        raise RuntimeError("UpStart root %s: /sbin/init is not UpStart's" % root)


def _install_debs(root: Path, debs) -> None:
    if not debs:
        raise RuntimeError("the UpStart build holds no Debian packages to install")
    inbox = _in_root(root, "/tmp/upstart-debs")
    inbox.mkdir(parents=True)
    try:
        for deb in debs:
            shutil.copy2(deb, inbox / deb.name)
        host.run_host(["chroot", str(root), "dpkg", "--install", *("/tmp/upstart-debs/" + deb.name for deb in debs)], timeout=120)
    finally:
        shutil.rmtree(inbox)
