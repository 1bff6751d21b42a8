"""System tier: the product on real init systems. systemd and sysvinit run as PID 1 in
systemd-nspawn containers built with debootstrap; a salt-minion runs inside each (the
host's Python and virtualenv bind-mounted read-only) and talks to the salt-master on
the host over the shared loopback. The fake agent is installed the real way: units
enabled for systemd, an init script with rc links for sysvinit, started at boot.

Needs root, debootstrap and systemd-nspawn (installed by `make test` through tests/deps.sh, as
.ci/run); without them the tier fails and says what is missing.
"""

import contextlib
import subprocess
import sys
import time

import pytest
import yaml

from tests.support import fakeagent
from tests.system import containers

KINDS = ("systemd", "sysvinit")
MINION_ID = {kind: f"sys-{kind}" for kind in KINDS}
NAMES = {kind: f"assist-{kind}" for kind in KINDS}
MINION_CONF = "/etc/salt-test"


@pytest.fixture(scope="session")
def root_tarballs(tmp_path_factory):
    """Cached root tarballs (built on first use); asserts at the end that no container,
    mount or cgroup was left behind."""
    containers.ensure_tools()
    base = tmp_path_factory.getbasetemp()
    containers.cleanup_stale(names=NAMES.values())
    yield containers.build_roots(KINDS)
    assert containers.stale_leftovers(names=NAMES.values(), roots=[base]) == []


class Box:
    """A booted container with the fake agent and a salt-minion inside."""

    def __init__(self, kind, root, master):
        self.kind, self.root, self.master = kind, root, master
        self.minion_id = MINION_ID[kind]
        self.container = containers.Container(kind, root, NAMES[kind], binds_ro=containers.python_binds())

    def install_agent(self):
        """The fake agent, registered with the init system to start at boot.

        On sysvinit the registration is update-rc.d's, as a package's postinst does it:
        Debian's rc starts services in insserv's dependency order (.depend.start),
        which links made by hand alone do not enter."""
        agent = fakeagent.install(self.root, init=self.kind, runtime_root="/", python=sys.executable, init_marker=False)
        if self.kind == "sysvinit":
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

    def boot(self, salt_cli):
        self.container.boot()
        self.run(f"{sys.prefix}/bin/salt-minion", "-c", MINION_CONF, "-d", check=True)
        # A ping published before the minion has subscribed is lost: ask often, briefly.
        quick = self.master.salt_cli(timeout=5)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if quick.run("test.ping", minion_tgt=self.minion_id).data is True:
                return
            time.sleep(1)
        log = self.run("tail", "-n", "25", "/var/lib/salt-test/var/log/salt/minion").stdout
        raise RuntimeError(f"the minion {self.minion_id} in the {self.kind} container never answered:\n{log}")

    def reboot(self, salt_cli):
        self.container.stop()
        self.boot(salt_cli)

    # What the container itself says, independent of Salt.

    def client_active(self):
        if self.kind == "systemd":
            return self.run("systemctl", "is-active", "aliyun.service").stdout.strip() == "active"
        return self.run("/etc/init.d/aliyun-service", "status").returncode == 0

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
        if self.kind == "systemd":
            self.run("systemctl", "daemon-reload", check=True)
            self.run("systemctl", "start", "aliyun.service", "AssistDaemon.service", check=True)
        else:
            self.run("/etc/init.d/aliyun-service", "start", check=True)
            self.run("/etc/init.d/assist-daemon", "start", check=True)


@pytest.fixture(scope="session")
def boxes(root_tarballs, salt_master, salt_cli, tmp_path_factory):
    """Both containers booted (one after the other), minions answering and synced."""
    booted = {}
    with contextlib.ExitStack() as stack:
        for kind in KINDS:
            root = tmp_path_factory.mktemp(kind[:3]) / "root"
            containers.unpack_root(root_tarballs[kind], root)
            stack.callback(containers.remove_root, root)
            box = Box(kind, root, salt_master)
            box.install_agent()
            box.write_minion_config()
            stack.callback(box.container.stop)
            box.boot(salt_cli)
            booted[kind] = box
        ret = salt_cli.run("saltutil.sync_all", minion_tgt="sys-*")
        assert ret.returncode == 0, ret
        yield booted
