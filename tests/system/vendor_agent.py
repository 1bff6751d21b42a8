"""The vendor's Cloud Assistant agent (built from source by agent_build.py), installed
in a container the vendor's way.

    stage(root, build_agent(), "systemd")    # before boot: what the package puts in place
    install(container, "systemd")             # booted: the agent's own --install, --start

Staged before boot, as the vendor's package does it (real-agent-notes.md):
- the binary at /usr/local/share/aliyun-assist/<release>/aliyun-service, and the
  version file beside that folder;
- the registration of the instance and the agent's settings (fakeagent.protected_files:
  hybrid/, region-id, config/, plugins, /etc/sysconfig/aliyun), never to be changed;
- updates off: config/disable_update and config/disable_bootstrap_update.

Then, inside the booted container, `aliyun-service --install` writes the unit, job or
init script (the vendor's, not ours) and `--start` starts it. Both exit 0 even when they
fail, so their words are read. The stand-in watchdog is not installed here: the vendor's
is closed source (tests/system/conftest.py wires the stand-in in).

Kept off the network, twice over: every container has a network namespace that holds
only loopback (checked before the agent first runs: install() refuses otherwise), and
the agent's server is 127.0.0.1 on the discard port, where nothing listens, so it stops
asking the metadata address. How the server is set differs by init system:
- systemd: /etc/sysconfig/aliyun (aliyun.service's EnvironmentFile) and
  /etc/sysconfig/aliyun-service (the generic template's, aliyun-service.service);
- sysvinit: /etc/sysconfig/aliyun-service, which the vendor's script sources (with
  `export`: it sources without `set -a`);
- UpStart: not /etc/sysconfig/aliyun-service. The vendor's job reads it with `source`, a
  bashism: under the root's /bin/sh (dash) the job exits 127 and stops respawning. So
  the job's own `env` stanza carries it: in /etc/init/aliyun-service.override on UpStart
  1.13.2, in the job file itself on 0.6.5, which reads no override files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support import fakeagent
from tests.system.agent_build import AGENT

RELEASE = AGENT.release
SHARE = "/usr/local/share/aliyun-assist"
PROGRAM = f"{SHARE}/{RELEASE}/aliyun-service"
SERVER = "127.0.0.1:9"  # the discard port: nothing listens there in the container
SERVER_LINE = f"ALIYUN_ASSIST_SERVER_HOST={SERVER}\n"
UPSTART_JOB = "/etc/init/aliyun-service.conf"
UPSTART_OVERRIDE = "/etc/init/aliyun-service.override"
# What the agent logs once it has read its server from the environment.
SERVER_LOGGED = f"Get host from env ALIYUN_ASSIST_SERVER_HOST: {SERVER}"
MAIN_LOG = f"{SHARE}/{RELEASE}/log/aliyun_assist_main.log"


class InstallError(RuntimeError):
    """The vendor's installer or the network check refused; the message says what."""


def inside(root: Path, path: str) -> Path:
    return Path(root) / path.lstrip("/")


def stage(root: Path, binary: Path, init: str) -> None:
    """Put in place what the vendor's package does, before the container boots."""
    _place(root, binary, RELEASE)
    for rel, text in fakeagent.protected_files(RELEASE).items():
        _write(inside(root, rel), text)
    for switch in ("disable_update", "disable_bootstrap_update"):
        _write(inside(root, f"{SHARE}/config/{switch}"), "")
    _set_server(root, init)


def _set_server(root: Path, init: str) -> None:
    sysconfig = inside(root, "/etc/sysconfig/aliyun")
    sysconfig.write_text(sysconfig.read_text() + SERVER_LINE)
    if init == "systemd":
        _write(inside(root, "/etc/sysconfig/aliyun-service"), SERVER_LINE)
    elif init == "sysvinit":
        _write(inside(root, "/etc/sysconfig/aliyun-service"), SERVER_LINE + "export ALIYUN_ASSIST_SERVER_HOST\n")


def install(container, init: str, upstart_release: str | None = None) -> str:
    """In the booted container: check that only loopback is there, run the agent's own
    installer and start it. Returns what the installer printed."""
    found = container.interfaces()
    if found != ["lo"]:
        raise InstallError(f"refusing to run the agent in {container.name}: its network has {', '.join(found)}, not only lo")
    return _install_and_start(container, init, RELEASE, upstart_release)


def _place(root: Path, binary: Path, release: str) -> None:
    """The binary in its release's folder, as the package puts it."""
    target = inside(root, program(release))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(binary, target)
    target.chmod(0o755)


def _install_and_start(container, init: str, release: str, upstart_release: str | None) -> str:
    """The agent's own --install (then the server for UpStart) and --start; what they said."""
    said = run_flag(container, "--install", release)
    if init == "upstart":
        _upstart_server(container, upstart_release)
    return said + run_flag(container, "--start", release)


def program(release: str) -> str:
    return f"{SHARE}/{release}/aliyun-service"


def run_flag(container, flag: str, release: str = RELEASE) -> str:
    """The agent's own `--install`, `--start`, `--stop` or `--remove`: it exits 0 even
    when it failed, so its words are read too."""
    done = container.run([program(release), flag], check=False)
    said = (done.stdout + done.stderr).strip()
    if done.returncode != 0 or "fail" in said.lower():
        raise InstallError(f"`aliyun-service {flag}` in {container.name} exited {done.returncode}: {said}")
    return said + "\n"


def update(container, init: str, binary: Path, old: str, new: str, upstart_release: str | None = None) -> None:
    """Update the agent in place from release `old` to `new`, as its package does: the
    old release stops itself and removes its service; the new release's folder goes
    beside it and its own installer writes the unit, job or script naming its path
    (systemd: with a daemon-reload); started; then the old folder goes and the
    version file names the new release."""
    run_flag(container, "--stop", old)
    run_flag(container, "--remove", old)
    reinstall(container, init, binary, new, upstart_release)
    shutil.rmtree(inside(container.root, f"{SHARE}/{old}"))
    _write(inside(container.root, f"{SHARE}/version"), f"{new}\n")


def _upstart_server(container, release: str) -> None:
    if release == "0.6.5":  # no override files: into the job, before its script stanza
        job = inside(container.root, UPSTART_JOB)
        text = job.read_text()
        if f"env {SERVER_LINE}" in text:  # set already
            return
        if "\nscript\n" not in text:
            raise InstallError(f"{UPSTART_JOB} has no script stanza to put the server before:\n{text}")
        job.write_text(text.replace("\nscript\n", f"\nenv {SERVER_LINE}script\n", 1))
    else:
        override = inside(container.root, UPSTART_OVERRIDE)
        text = override.read_text() if override.exists() else ""
        if f"env {SERVER_LINE}" not in text:
            _write(override, f"env {SERVER_LINE}" + text)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def uninstall(container, release: str) -> None:
    """The agent gone as its package's removal leaves it: stopped, its service removed by
    itself, its release folder deleted (the registration under SHARE stays)."""
    run_flag(container, "--stop", release)
    run_flag(container, "--remove", release)
    shutil.rmtree(inside(container.root, f"{SHARE}/{release}"))


def reinstall(container, init: str, binary: Path, release: str, upstart_release: str | None = None) -> None:
    """The agent put back: its folder, its own --install (and the server for UpStart), --start."""
    _place(container.root, binary, release)
    _install_and_start(container, init, release, upstart_release)
