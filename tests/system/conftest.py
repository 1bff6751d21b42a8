"""System tier: the product on real init systems. systemd, sysvinit, UpStart 1.13.2 and
UpStart 0.6.5 run as PID 1 in systemd-nspawn containers; a salt-minion runs inside each
(the host's Python and virtualenv bind-mounted read-only) and talks to the salt-master
on the host. systemd and sysvinit roots are built with debootstrap; UpStart is built
from the sources in tests/system/upstart and put over a sysvinit root. The fake agent is
installed the real way: units enabled for systemd, an init script with rc links for
sysvinit, jobs in /etc/init for UpStart, started at boot.

Needs root, debootstrap, systemd-nspawn and UpStart's build tools (installed by `make
test` through tests/deps.sh, as .ci/run); without them the tier fails and says what is
missing.
"""

import concurrent.futures
import contextlib
import re
import subprocess
import sys
import time

import pytest
import yaml

from tests.support import fakeagent
from tests.system import cleanup, host, roots, upstart_build
from tests.system.container import Container, python_binds

KINDS = ("systemd", "sysvinit", "upstart", "upstart-0.6.5")
# The init system each kind runs, and the UpStart release of the UpStart kinds.
INIT = {"systemd": "systemd", "sysvinit": "sysvinit", "upstart": "upstart", "upstart-0.6.5": "upstart"}
UPSTART_RELEASE = {"upstart": "1.13.2", "upstart-0.6.5": "0.6.5"}
# The debootstrap root each kind starts from (UpStart's programs go over sysvinit's).
ROOT = {"systemd": "systemd", "sysvinit": "sysvinit", "upstart": "sysvinit", "upstart-0.6.5": "sysvinit"}
MINION_ID = {kind: f"sys-{kind}" for kind in KINDS}
NAMES = {kind: cleanup.machine_name(kind) for kind in KINDS}
MINION_CONF = "/etc/salt-test"


def settle(seconds=2.0):
    """Longer than the fake watchdog's restart interval (0.1 s), many times over."""
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
    """Cached root tarballs and UpStart builds, made on first use (side by side: debootstrap
    waits on the network, the compiler on the CPU); asserts at the end that no container,
    mount or cgroup was left behind."""
    host.ensure_tools()
    base = tmp_path_factory.getbasetemp()
    cleanup.cleanup_stale(names=NAMES.values())
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        tarballs = pool.submit(roots.build_roots, sorted(set(ROOT.values())))
        builds = pool.submit(upstart_build.build_upstart, sorted(set(UPSTART_RELEASE.values())))
        made = {"roots": tarballs.result(), "upstart": builds.result()}
    yield made
    assert cleanup.stale_leftovers(names=NAMES.values(), roots=[base]) == []


class Box:
    """A booted container with the fake agent and a salt-minion inside."""

    def __init__(self, kind, root, master):
        self.kind, self.root, self.master = kind, root, master
        self.init = INIT[kind]
        self.minion_id = MINION_ID[kind]
        # UpStart gets a network of its own (its control socket is scoped to it), with
        # the master's ports relayed in: tests/system/relay.py.
        ports = (master.config["ret_port"], master.config["publish_port"]) if self.init == "upstart" else ()
        self.container = Container(self.init, root, NAMES[kind], binds_ro=python_binds(), relay_ports=ports)

    def install_agent(self):
        """The fake agent, registered with the init system to start at boot.

        On sysvinit the registration is update-rc.d's, as a package's postinst does it:
        Debian's rc starts services in insserv's dependency order (.depend.start),
        which links made by hand alone do not enter. On UpStart the jobs in /etc/init
        start on runlevel [2345]."""
        agent = fakeagent.install(self.root, init=self.init, runtime_root="/", python=sys.executable, init_marker=False)
        if self.init == "upstart":  # the job file as the package ships it
            self.shipped_job = (self.root / fakeagent.UPSTART_JOB).read_bytes()
        if self.init == "sysvinit":
            for script in ("aliyun-service", "assist-daemon"):
                subprocess.run(["chroot", self.root, "update-rc.d", script, "defaults"], check=True, capture_output=True)
        return agent

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
        self.run(f"{sys.prefix}/bin/salt-minion", "-c", MINION_CONF, "-d", check=True)

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
            return self.run("systemctl", "is-active", "aliyun.service").stdout.strip() == "active"
        if self.init == "upstart":
            return self.initctl("status", "aliyun-service").stdout.startswith("aliyun-service start/running")
        return self.run("/etc/init.d/aliyun-service", "status").returncode == 0

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
        out = self.run("pgrep", "-f", "/usr/local/share/aliyun-assist/.*/aliyun-service").stdout
        return out.split()

    def watchdog_processes(self):
        return self.run("pgrep", "-f", "assist-daemon/assist_daemon").stdout.split()

    def watchdog_installed(self):
        return (self.root / "usr/local/share/assist-daemon/assist_daemon").exists()

    def start_watchdog(self):
        """Put the watchdog back (as a reinstall of the agent would) and start it."""
        self.install_agent()
        if self.init == "systemd":
            self.run("systemctl", "daemon-reload", check=True)
            self.run("systemctl", "start", "aliyun.service", "AssistDaemon.service", check=True)
        elif self.init == "upstart":
            self.run("/sbin/initctl", "reload-configuration", check=True)
            if not self.client_active():
                self.run("/sbin/initctl", "start", "aliyun-service", check=True)
            self.run("/sbin/initctl", "start", "assist-daemon", check=True)
        else:
            self.run("/etc/init.d/aliyun-service", "start", check=True)
            self.run("/etc/init.d/assist-daemon", "start", check=True)


@pytest.fixture(scope="session")
def boxes(images, salt_master, salt_cli, tmp_path_factory):
    """Every container booted (one after the other), minions answering and synced. The
    minions start while the next container boots: they take longer than a boot."""
    booted = {}
    with contextlib.ExitStack() as stack:
        for kind in KINDS:
            root = tmp_path_factory.mktemp(kind[:3]) / "root"
            roots.unpack_root(images["roots"][ROOT[kind]], root)
            stack.callback(roots.remove_root, root)
            if INIT[kind] == "upstart":
                roots.make_upstart_root(root, images["upstart"][UPSTART_RELEASE[kind]], f"assist-{kind}")
            box = Box(kind, root, salt_master)
            box.install_agent()
            box.write_minion_config()
            stack.callback(box.container.stop)
            box.start()
            booted[kind] = box
        for box in booted.values():
            box.wait_answering()
        ret = salt_cli.run("saltutil.sync_all", minion_tgt="sys-*")
        assert ret.returncode == 0, ret
        yield booted
