"""System tier: the product on real init systems, with the vendor's real agent.
systemd, sysvinit, UpStart 1.13.2 and UpStart 0.6.5 run as PID 1 in systemd-nspawn
containers; a salt-minion runs inside each (the host's Python and virtualenv
bind-mounted read-only) and talks to the salt-master on the host through a relay
(every container's network holds only loopback). systemd and sysvinit roots are built
with debootstrap; UpStart is built from the sources in tests/system/upstart and put
over a sysvinit root.

The client is the vendor's agent 2.2.3.578, built from its source
(tests/system/agent_build.py) and installed by its own `aliyun-service --install` in
each booted container (tests/system/vendor_agent.py). The watchdog, assist_daemon, is
closed source: a stand-in (tests/support/agent/assist_daemon.py) takes its place,
registered with the init system as the package registers the real one.

Needs root, debootstrap, systemd-nspawn, UpStart's build tools and Go (installed by
`make test` through tests/deps.sh, as .ci/run); without them the tier fails and says
what is missing.
"""

import concurrent.futures
import contextlib
import dataclasses
import os
import re
import sys
import time

import pytest
import yaml

from tests.support import fakeagent
from tests.system import agent_build, cleanup, host, roots, upstart_build, vendor_agent
from tests.system.container import Container, python_binds

KINDS = ("systemd", "sysvinit", "upstart", "upstart-0.6.5")
# The other systemd releases fleets run (Debian 11's and 13's; "systemd" is Debian 12's
# 252), booted by test_systemd_releases.py after the four above.
SYSTEMD_RELEASES = ("systemd-247", "systemd-257")
# The init system each kind runs, and the UpStart release of the UpStart kinds.
INIT = {"systemd": "systemd", "sysvinit": "sysvinit", "upstart": "upstart", "upstart-0.6.5": "upstart"}
INIT.update(dict.fromkeys(SYSTEMD_RELEASES, "systemd"))
UPSTART_RELEASE = {"upstart": "1.13.2", "upstart-0.6.5": "0.6.5"}
# The debootstrap root each kind starts from (UpStart's programs go over sysvinit's).
ROOT = {"systemd": "systemd", "sysvinit": "sysvinit", "upstart": "sysvinit", "upstart-0.6.5": "sysvinit"}
ROOT.update({kind: kind for kind in SYSTEMD_RELEASES})
# The other releases' minions are outside the "sys-*" the other files target: they are
# gone, with their containers, when those files run.
MINION_ID = {kind: f"sys-{kind}" for kind in KINDS} | {kind: f"rel-{kind}" for kind in SYSTEMD_RELEASES}
NAMES = {kind: cleanup.machine_name(kind) for kind in KINDS + SYSTEMD_RELEASES}
# Debian 11's C library (2.31) is older than the one the host's Python needs. In that
# root the minion's Python runs on the host's C library, bound read-only at HOST_LIBS
# and loaded by the host's own loader, through the small program HOST_PYTHON; every
# program it starts (systemctl, the agent) is the root's own. The stand-in watchdog
# runs on the root's own python3 there: under the loader its command line would not
# name its program first, as a watchdog's does.
ON_HOST_LIBC = ("systemd-247",)
HOST_LIBS = "/opt/assist-host-libs"
HOST_PYTHON = "/usr/local/bin/assist-host-python"
MINION_CONF = "/etc/salt-test"
# The same source built as a later release (only the version it reports differs): the
# agent updated in place (test_vendor_agent.py), and put back after tests remove it.
UPDATE = dataclasses.replace(agent_build.AGENT, release="2.2.4.100")


def settle(seconds=2.0):
    """Longer than the stand-in watchdog's restart interval (0.1 s), many times over."""
    time.sleep(seconds)


def reboot(*boxes):
    """Reboot containers one after the other; each minion starts while the next boots."""
    for box in boxes:
        box.container.stop()
        box.start()
    for box in boxes:
        box.wait_answering()


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """Cached root tarballs, UpStart builds and the agent's build, made on first use
    (side by side: debootstrap waits on the network, the compilers on the CPU); asserts
    at the end that no container, mount or cgroup was left behind."""
    host.ensure_tools()
    base = tmp_path_factory.getbasetemp()
    cleanup.cleanup_stale(names=NAMES.values())
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        tarballs = pool.submit(roots.build_roots, sorted(set(ROOT.values())))
        builds = pool.submit(upstart_build.build_upstart, sorted(set(UPSTART_RELEASE.values())))
        agent = pool.submit(agent_build.build_agent)
        made = {"roots": tarballs.result(), "upstart": builds.result(), "agent": agent.result()}
    yield made
    assert cleanup.stale_leftovers(names=NAMES.values(), roots=[base]) == []


@pytest.fixture(scope="session")
def update_build(images):
    return agent_build.build_agent(recipe=UPDATE)


class Box:
    """A booted container with the vendor's agent, the stand-in watchdog and a salt-minion."""

    def __init__(self, kind, root, master):
        self.kind, self.root, self.master = kind, root, master
        self.init = INIT[kind]
        self.minion_id = MINION_ID[kind]
        self.unit = None  # systemd: the client's unit, as the vendor's installer named it
        ports = (master.config["ret_port"], master.config["publish_port"])
        binds = python_binds()
        self.python = self.watchdog_python = sys.executable
        if kind in ON_HOST_LIBC:
            binds.append((os.path.dirname(os.path.realpath("/lib64/ld-linux-x86-64.so.2")), HOST_LIBS))
            self.python, self.watchdog_python = HOST_PYTHON, "/usr/bin/python3"
            self._write_host_python()
        self.container = Container(self.init, root, NAMES[kind], binds_ro=binds, relay_ports=ports)

    def _write_host_python(self):
        """HOST_PYTHON in the root: this Python, on the host's C library (ON_HOST_LIBC)."""
        program = self.file(HOST_PYTHON)
        program.parent.mkdir(parents=True, exist_ok=True)
        loader = f"{HOST_LIBS}/ld-linux-x86-64.so.2"
        program.write_text(f'#!/bin/sh\nexec {loader} --library-path {sys.base_prefix}/lib:{HOST_LIBS} {sys.executable} "$@"\n')
        program.chmod(0o755)

    def install_agent(self):
        """The vendor's agent, the vendor's way (tests/system/vendor_agent.py), in the
        booted container; then the stand-in watchdog, registered and started."""
        self.installer_said = vendor_agent.install(self.container, self.init, UPSTART_RELEASE.get(self.kind))
        if self.init == "systemd":
            self.unit = self.installed_unit()
        if self.init == "upstart":  # the job file as the vendor's installer wrote it
            self.shipped_job = self.file(vendor_agent.UPSTART_JOB).read_bytes()
        self.registration = self.registration_files()
        self.install_watchdog()
        self.start_watchdog()

    def file(self, path):
        """A file of the container, seen from the host."""
        return vendor_agent.inside(self.root, path)

    def installed_unit(self):
        """The one unit of the agent in /etc/systemd/system (its installer picks the name)."""
        (unit,) = [path.name for path in self.file("/etc/systemd/system").glob("aliyun*.service")]
        return unit

    def registration_files(self):
        """{path: bytes} of the registration and settings the agent's package left (less
        the version file, which an update rewrites)."""
        kept = set(fakeagent.protected_files(vendor_agent.RELEASE)) - {f"{vendor_agent.SHARE.lstrip('/')}/version"}
        return {rel: self.file(rel).read_bytes() for rel in sorted(kept)}

    def install_watchdog(self):
        """The stand-in watchdog, registered to start at boot. On sysvinit with
        update-rc.d, as a package's postinst does: Debian's rc starts services in
        insserv's dependency order (.depend.start), which links made by hand alone do
        not enter."""
        fakeagent.install_watchdog(
            self.root,
            init=self.init,
            runtime_root="/",
            python=self.watchdog_python,
            client_unit=self.unit or fakeagent.CLIENT_UNIT,
        )
        if self.init == "systemd":
            self.run("systemctl", "daemon-reload", check=True)
        elif self.init == "upstart":
            self.run("/sbin/initctl", "reload-configuration", check=True)
        else:
            self.run("update-rc.d", "assist-daemon", "defaults", check=True)

    def start_watchdog(self):
        """Start the client if it is down, then the watchdog."""
        if not self.client_active():
            self.run(vendor_agent.PROGRAM, "--start", check=True)
        if self.init == "systemd":
            self.run("systemctl", "start", "AssistDaemon.service", check=True)
        elif self.init == "upstart":
            self.run("/sbin/initctl", "start", "assist-daemon", check=True)
        else:
            self.run("/etc/init.d/assist-daemon", "start", check=True)

    def put_watchdog_back(self):
        """The watchdog installed and started again, as a reinstall of the agent's package would."""
        self.install_watchdog()
        self.start_watchdog()

    def write_minion_config(self):
        config = {
            "id": self.minion_id,
            "master": "127.0.0.1",
            "master_port": self.master.config["ret_port"],
            "publish_port": self.master.config["publish_port"],
            "transport": self.master.config.get("transport", "zeromq"),
            "root_dir": "/var/lib/salt-test",
            "user": "root",
            "log_level_logfile": "info",
            "grains": {"assist_policy": "frozen"},
            "assist": {"lookup": {"verify_seconds": 3}},
        }
        path = self.root / MINION_CONF.lstrip("/") / "minion"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config))

    def run(self, *argv, check=False):
        return self.container.run(list(argv), check=check)

    def start(self):
        """Boot the container and start its minion, without waiting for the minion."""
        self.container.boot()
        self.start_minion()

    def start_minion(self):
        self.run(self.python, f"{sys.prefix}/bin/salt-minion", "-c", MINION_CONF, "-d", check=True)

    def wait_answering(self):
        # A ping published before the minion has subscribed is lost: ask often, briefly.
        quick = self.master.salt_cli(timeout=5)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if quick.run("test.ping", minion_tgt=self.minion_id).data is True:
                return
            time.sleep(1)
        log = self.run("tail", "-n", "25", "/var/lib/salt-test/var/log/salt/minion").stdout
        raise RuntimeError(f"the minion {self.minion_id} in the {self.kind} container never answered:\n{log}")

    # What the container itself says, independent of Salt.

    def client_active(self):
        if self.init == "systemd":
            return self.run("systemctl", "is-active", self.unit).stdout.strip() == "active"
        if self.init == "upstart":
            return self.initctl("status", "aliyun-service").stdout.startswith("aliyun-service start/running")
        return self.run("/etc/init.d/aliyun-service", "status").returncode == 0

    def one_client_runs(self):
        """The init system says the client runs, and exactly one agent process lives."""
        return self.client_active() and len(self.client_processes()) == 1

    def initctl(self, *args):
        """UpStart's own answer: the completed `initctl ARGS` (stdout, stderr, returncode)."""
        return self.run("/sbin/initctl", *args)

    def job_state(self):
        """`initctl status aliyun-service`, read: (goal/state, pid or None)."""
        done = self.initctl("status", "aliyun-service")
        found = re.fullmatch(r"aliyun-service (\S+?)(?:, process (\d+))?\n", done.stdout)
        assert done.returncode == 0 and found, done
        return found.group(1), int(found.group(2)) if found.group(2) else None

    def client_processes(self):
        """Pids whose program is an agent under /usr/local/share/aliyun-assist, told by
        /proc/PID/exe: a shell running /etc/init.d/aliyun-service has the name too. A
        program whose folder was removed (an update) reads "... (deleted)"."""
        script = (
            'for p in /proc/[0-9]*; do case "$(readlink "$p/exe")" in "$1"/*/aliyun-service*) echo "${p#/proc/}";; esac; done'
        )
        return sorted(self.run("sh", "-c", script, "sh", vendor_agent.SHARE).stdout.split(), key=int)

    def watchdog_processes(self):
        return self.run("pgrep", "-f", "assist-daemon/assist_daemon").stdout.split()

    def watchdog_installed(self):
        return (self.root / "usr/local/share/assist-daemon/assist_daemon").exists()


def boot_boxes(kinds, images, salt_master, salt_cli, tmp_path_factory, stack):
    """Containers of these kinds booted (one after the other) with the vendor's agent
    installed, minions answering and synced; each stopped and removed when the stack
    closes. The minions start while the next container boots: they take longer than a
    boot."""
    booted = {}
    for kind in kinds:
        root = tmp_path_factory.mktemp(kind[:3]) / "root"
        roots.unpack_root(images["roots"][ROOT[kind]], root)
        stack.callback(roots.remove_root, root)
        if INIT[kind] == "upstart":
            roots.make_upstart_root(root, images["upstart"][UPSTART_RELEASE[kind]], f"assist-{kind}")
        vendor_agent.stage(root, images["agent"], INIT[kind])
        box = Box(kind, root, salt_master)
        box.write_minion_config()
        stack.callback(box.container.stop)
        box.container.boot()
        box.install_agent()
        box.start_minion()
        booted[kind] = box
    for box in booted.values():
        box.wait_answering()
    ret = salt_cli.run("-L", "saltutil.sync_all", minion_tgt=",".join(box.minion_id for box in booted.values()))
    assert ret.returncode == 0, ret
    return booted


@pytest.fixture(scope="session")
def boxes(images, salt_master, salt_cli, tmp_path_factory):
    """The four init systems, each in its container (boot_boxes)."""
    with contextlib.ExitStack() as stack:
        yield boot_boxes(KINDS, images, salt_master, salt_cli, tmp_path_factory, stack)
