"""Boot a real init system as PID 1 in a systemd-nspawn container and run commands in it.

    box = Container("systemd", root, machine_name("systemd"), binds_ro=python_binds())
    box.boot()
    box.run(["systemctl", "is-system-running"])
    box.stop()                  # and every mount and cgroup it left is removed

The host has no running systemd, so nspawn runs with `--register=no
--keep-unit`. Each nspawn starts in its own cgroup (tests/system/cgroups.py).
Every container has a network of its own that holds only loopback
(`--private-network`): the vendor's agent inside asks Alibaba's servers when it
can. The host ports a container needs (the salt-master's) are relayed into its
loopback (tests/system/relay.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.system import cgroups, host, offline, procs
from tests.system.cleanup import cleanup_stale
from tests.system.relay import Relay

INITS = ("systemd", "sysvinit", "upstart")

# What nspawn sends PID 1 to stop the container: systemd powers off on
# SIGRTMIN+3 (nspawn's default for -b); sysvinit has no clean signal, and its
# state lives on disk anyway; UpStart treats SIGTERM as "re-exec yourself" and
# SIGPWR as a power failure, which its power-status-changed job turns into a
# clean shutdown.
KILL_SIGNAL = {"sysvinit": "SIGKILL", "upstart": "SIGPWR"}


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


class ContainerError(RuntimeError):
    """Boot or shutdown failure; the message includes nspawn's output."""


class ContainerCommandError(subprocess.CalledProcessError):
    """A command inside the container failed; str() shows its output."""

    def __str__(self):
        return "%s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (super().__str__(), self.stdout, self.stderr)


class Container:
    """One systemd-nspawn container running a real init as PID 1.

    relay_ports: the host's loopback ports that the container reaches as its
    own 127.0.0.1 ports (the salt-master's).
    """

    def __init__(self, init: str, root_dir, name: str, binds_ro=(), relay_ports=(), boot_timeout: float = 90):
        if init not in INITS:
            raise ValueError("init must be one of %s, not %r" % (INITS, init))
        self.init = init
        self.root = Path(root_dir).resolve()
        self.name = name
        self.binds_ro = list(binds_ro)
        self.relay_ports = list(relay_ports)
        self.boot_timeout = boot_timeout
        self.log_path = self.root.parent / (name + ".nspawn.log")
        self.proc: subprocess.Popen | None = None
        self.leader_pid: int | None = None
        self._relay: Relay | None = None

    # -- lifecycle ---------------------------------------------------------

    def boot(self) -> Container:
        """Start nspawn and wait until the init system has finished booting."""
        if self.running:
            raise ContainerError("%s is already running" % self.name)
        cleanup_stale(names=[self.name], roots=[self.root])
        own_cgroups = cgroups.make_own(self.name)
        with open(self.log_path, "ab") as log:
            log.write(b"=== boot %s ===\n" % time.ctime().encode())
            log.flush()
            self.proc = subprocess.Popen(
                self._nspawn_argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_nspawn_env(),
                preexec_fn=lambda: cgroups.join(own_cgroups),
            )
        try:
            self.leader_pid = self._wait_for_leader()
            self._wait_until_ready()
            if self.relay_ports:
                self._relay = Relay(self.leader_pid, self.relay_ports).start()
        except BaseException:
            self.stop()
            raise
        return self

    def _nspawn_argv(self) -> list[str]:
        argv = [
            "systemd-nspawn",
            "-D",
            str(self.root),
            "-M",
            self.name,
            "--console=passive",
            "--register=no",
            "--keep-unit",
            "--resolv-conf=copy-host",
            "--timezone=off",
        ]
        argv += ["--bind-ro=" + _bind_spec(b) for b in self.binds_ro]
        argv.append("--private-network")
        if self.init == "systemd":
            argv.append("-b")
            return argv
        # Name /sbin/init explicitly, or nspawn would look for systemd.
        return argv + ["--kill-signal=" + KILL_SIGNAL[self.init], "/sbin/init"]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20) -> None:
        """Stop the container (SIGTERM nspawn, then SIGKILL) and clean up.

        Safe to call repeatedly and after a failed boot.
        """
        try:
            if self._relay is not None:
                self._relay.close()
            if self.running:
                self._terminate(timeout)
        finally:
            self._relay = None
            self.proc = None
            self.leader_pid = None
            cleanup_stale(names=[self.name], roots=[self.root])

    def _terminate(self, timeout: float) -> None:
        # SIGTERM makes nspawn send the kill signal to the container's init.
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            pass
        # Killing only nspawn would orphan the container: kill its PID 1
        # first, which takes down the whole PID namespace.
        if self.leader_pid and procs.pid_alive(self.leader_pid):
            procs.kill(self.leader_pid, signal.SIGKILL)
        procs.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    # -- commands inside ---------------------------------------------------

    def run(self, argv, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run argv (a list, never a shell string) inside the container; output as str.

        On timeout only nsenter is killed; the command may linger inside until shutdown.
        """
        if not self.leader_pid:
            raise ContainerError("%s is not running" % self.name)
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a list of arguments")
        env = {"PATH": host.SANE_PATH, "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"}
        cmd = ["nsenter", "-t", str(self.leader_pid), "-a", "--", *map(str, argv)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise ContainerCommandError(proc.returncode, list(argv), proc.stdout, proc.stderr)
        return proc

    def interfaces(self) -> list[str]:
        """The network interfaces of the container's namespace, as the host's `ip` sees them."""
        return offline.interfaces(["nsenter", "-t", str(self.leader_pid), "-n"])

    # -- boot helpers --------------------------------------------------------

    def _deadline_error(self, what: str) -> ContainerError:
        return ContainerError(
            "%s container %s: %s\n--- nspawn output (%s) ---\n%s"
            % (self.init, self.name, what, self.log_path, procs.read_text(self.log_path)[-6000:])
        )

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise self._deadline_error("systemd-nspawn exited with %s during boot" % self.proc.returncode)

    def _wait_for_leader(self) -> int:
        # The container's PID 1 is nspawn's child in a new PID namespace
        # (nspawn's first, short-lived child still shares our namespace).
        deadline = time.monotonic() + self.boot_timeout
        own_ns = os.readlink("/proc/self/ns/pid")
        while time.monotonic() < deadline:
            self._check_alive()
            for pid in procs.children(self.proc.pid):
                try:
                    if os.readlink("/proc/%d/ns/pid" % pid) != own_ns:
                        return pid
                except OSError:
                    continue
            time.sleep(0.05)
        raise self._deadline_error("no container PID 1 after %ss" % self.boot_timeout)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.boot_timeout
        state = "unknown"
        while time.monotonic() < deadline:
            self._check_alive()
            ready, state = self._boot_state()
            if ready:
                return
            time.sleep(0.2)
        raise self._deadline_error("not ready after %ss (last state: %s)" % (self.boot_timeout, state))

    def _boot_state(self) -> tuple[bool, str]:
        if self.init == "systemd":
            out = self._try_run(["systemctl", "is-system-running"])
            return out in ("running", "degraded"), out
        level = self._try_run(["runlevel"])
        reached = bool(re.fullmatch(r"\S [1-5]", level))
        if self.init == "upstart":
            # Runlevel reached and every job settled: each line of `initctl
            # list` is `JOB start/running[, process N]` or `JOB stop/waiting`.
            jobs = self._try_run(["initctl", "list"]).splitlines()
            moving = [line for line in jobs if not re.match(r"\S+ (start/running|stop/waiting)\b", line)]
            return reached and bool(jobs) and not moving, "runlevel %r, jobs not settled: %s" % (
                level,
                moving or jobs or "no answer",
            )
        # sysvinit: runlevel reached and no rc script still running (init
        # records the runlevel before it runs `/etc/init.d/rc N`).
        rc_busy = any("/etc/init.d/rc" in " ".join(procs.cmdline_args(pid)) for pid in procs.descendants(self.leader_pid))
        return reached and not rc_busy, "runlevel %r, rc running: %s" % (level, rc_busy)

    def _try_run(self, argv) -> str:
        try:
            return self.run(argv, check=False, timeout=10).stdout.strip()
        except subprocess.TimeoutExpired:
            return "timeout"


def _bind_spec(bind) -> str:
    """A path, bound at the same path inside; or (host path, path inside)."""
    paths = [str(path) for path in bind] if isinstance(bind, tuple) else [str(bind)]
    # nspawn splits its --bind argument on ':'.
    if any(":" in path or not path.startswith("/") for path in paths):
        raise ValueError("bind paths must be absolute and free of ':': %r" % (bind,))
    return ":".join(paths)


def _nspawn_env() -> dict:
    # nspawn hands TERM to the container; "dumb" keeps colour codes out of
    # the console log.
    env = host.host_env()
    env["TERM"] = "dumb"
    return env
