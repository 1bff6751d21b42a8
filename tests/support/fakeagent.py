"""A faithful fake of Alibaba Cloud's Cloud Assistant agent, with real processes.

``install(dest)`` writes the client (``aliyun-service``), the watchdog
(``assist_daemon``), their init-system registrations and the "never delete"
tree into a directory.  The programs, units and jobs are real files in
``tests/support/agent/`` (its ``__init__.py`` says how they are filled in):
small Python / POSIX sh programs that behave like the real ones.  The init
script starts the client detached, the watchdog polls the init system and
restarts the client when it is down.

Two roots matter:

* ``dest``: where the files are written on the host;
* ``runtime_root``: the prefix baked into the scripts, i.e. where the files are
  seen when the scripts run ("/" inside a container whose root is ``dest``).

On UpStart both are jobs in ``/etc/init``: the client's as the vendor ships it
(``respawn``), and the watchdog's beside it; the watchdog asks ``initctl``.

On this kind of machine PID 1 is not an init and reaps orphans late, so dead
daemons linger as zombies for a second or more.  Everything here (scripts and
host-side helpers) counts a process as alive only if it exists and is not a
zombie.
"""

import contextlib
import functools
import hashlib
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

# The /proc helpers live once, in the watchdog's own file: the installed watchdog must
# stand alone (a container holds no tests/support), and the host must count a process
# as alive exactly as the watchdog does.  Importing the file has no side effects.
from tests.support.agent.assist_daemon import alive as _alive
from tests.support.agent.assist_daemon import cmdline as _cmdline

__all__ = ["install", "bare", "running", "FakeAgent", "wait_until", "FAULTS"]

FAULTS = ("daemon-stop-fails", "daemon-delete-fails", "client-stop-fails", "client-stop-hangs", "client-start-does-nothing")

# Paths relative to a root (dest on the host, runtime_root at run time).
SHARE = "usr/local/share/aliyun-assist"
SYSCONFIG = "etc/sysconfig/aliyun"
DAEMON_DIR = "usr/local/share/assist-daemon"
DAEMON = DAEMON_DIR + "/assist_daemon"
SYSV_CLIENT = "etc/init.d/aliyun-service"
SYSV_DAEMON = "etc/init.d/assist-daemon"
UPSTART_JOB = "etc/init/aliyun-service.conf"
UPSTART_DAEMON_JOB = "etc/init/assist-daemon.conf"
INITCTL = "sbin/initctl"
UNIT_DIR = "etc/systemd/system"
WANTS_DIR = UNIT_DIR + "/multi-user.target.wants"
CLIENT_UNIT = "aliyun.service"
DAEMON_UNIT = "AssistDaemon.service"
CLIENT_PIDFILE = "var/run/aliyun-service.pid"
CLIENT_LOCKFILE = "var/run/aliyun-service.lock"
CLIENT_OWN_PIDFILE = "var/tmp/aliyun-service.pid"
DAEMON_PIDFILE = "var/run/assist_daemon.pid"
DAEMON_LOCKFILE = "var/run/assist_daemon.lock"
FAULTS_FILE = "var/lib/fake-assist/faults"
INIT_MARKER = "sbin/init"


def client_rel(version):
    return f"{SHARE}/{version}/aliyun-service"


# ---------------------------------------------------------------------------
# /proc helpers of the host side (_alive and _cmdline are imported above).


def _all_pids():
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    return int(data[data.rfind(b")") + 2 :].split()[1])


def _ancestors():
    """This process and its ancestors: never to be killed by cleanup()."""
    pids, pid = set(), os.getpid()
    while pid > 0 and pid not in pids:
        pids.add(pid)
        pid = _ppid(pid)
    return pids


def wait_until(predicate, timeout=5.0, interval=0.02):
    """Poll predicate() until it is true (return True) or timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def holds_for(predicate, seconds, interval=0.02):
    """True when predicate() stays true for the whole time: a client that stays down
    that long would have been restarted many times by a live watchdog (0.1 s)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(interval)
    return True


# What `strings /sbin/init | grep ...` finds in the real binaries.
INIT_MARKERS = {
    "systemd": b"/lib/systemd/systemd-shutdown\0/lib/systemd/system-generators\0",
    "sysvinit": b"INIT_VERSION=sysvinit-3.06\0@(#)init.c  sysvinit\0",
    "upstart": b"UPSTART_CONFDIR\0/var/log/upstart\0/com/ubuntu/Upstart\0",  # 1.13.2, built here
}


# ---------------------------------------------------------------------------
# The files in tests/support/agent, filled in.

AGENT_DIR = Path(__file__).with_name("agent")
# A quoted placeholder ("@KEY@" in Python, '@KEY@' in sh) is replaced, quotes and all,
# by the value written as a literal of the file's language.
_LITERAL = {".py": repr, ".init": shlex.quote}
_PLACEHOLDER = re.compile(r"@[A-Z][A-Z_]*@")
_HELPERS_LINE = ". ./init-functions.sh\n"


@functools.cache
def _source(name):
    return (AGENT_DIR / name).read_text()


def _render(name, **values):
    """The text of tests/support/agent/NAME with its @KEY@ placeholders filled in
    (its __init__.py says how), and an init script's helpers inlined."""
    text = _source(name)
    literal = _LITERAL.get(PurePosixPath(name).suffix)
    for key, value in values.items():
        if literal:
            for quote in "\"'":
                text = text.replace(f"{quote}@{key}@{quote}", literal(value))
        text = text.replace(f"@{key}@", str(value))
    if name.endswith(".init"):
        if _HELPERS_LINE not in text:
            raise RuntimeError(f"{name} does not source init-functions.sh")
        helpers = _source("init-functions.sh").split("\n\n", 1)[1]  # less its header
        text = text.replace(_HELPERS_LINE, helpers)
    left = _PLACEHOLDER.findall(text)
    if left:
        raise RuntimeError(f"{name}: placeholders left unfilled: {sorted(set(left))}")
    return text


# ---------------------------------------------------------------------------
# Installation


class _Writer:
    """Writes under dest, refusing to follow a symlink out of it (container roots
    have absolute links such as var/run -> /run)."""

    def __init__(self, dest):
        self.dest = dest
        self.real_dest = os.path.realpath(dest)

    def _target(self, rel):
        path = self.dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        real_parent = os.path.realpath(path.parent)
        if os.path.commonpath([real_parent, self.real_dest]) != self.real_dest:
            raise RuntimeError(f"{path} would be written outside {self.dest}")
        return path

    def file(self, rel, data, mode=0o644):
        path = self._target(rel)
        if isinstance(data, str):
            data = data.encode()
        # Written beside and renamed over, as a package manager installs: writing into a
        # program that is being started fails with ETXTBSY (a reinstall under a live
        # watchdog, which restarts the client at any moment).
        new = path.with_name(f".{path.name}.new")
        new.write_bytes(data)
        os.chmod(new, mode)
        os.replace(new, path)
        return path

    def symlink(self, rel, target):
        path = self._target(rel)
        if path.is_symlink() or path.exists():
            path.unlink()
        os.symlink(target, path)


def protected_files(version):
    """The never-delete tree, with small plausible contents."""
    return {
        f"{SHARE}/version": f"{version}\n",
        f"{SHARE}/region-id": "cn-hangzhou\n",
        f"{SHARE}/hybrid/instance-id": "mi-fake0123456789abcdef\n",
        f"{SHARE}/hybrid/machine-id": "9f1c2d3e4b5a69788796a5b4c3d2e1f0\n",
        f"{SHARE}/hybrid/region-id": "cn-hangzhou\n",
        f"{SHARE}/hybrid/pub-key": "-----BEGIN PUBLIC KEY-----\nRkFLRS1LRVktRk9SLVRFU1RT\n-----END PUBLIC KEY-----\n",
        f"{SHARE}/config/aliyun-assist.conf": "[assistDaemon]\nactive = true\n",
        f"{SHARE}/plugin/installed_plugins": '{"pluginList": [{"name": "ACS-ECS-Demo", "version": "1.0"}]}\n',
        f"{SHARE}/plugin/ACS-ECS-Demo/1.0/config.json": '{"name": "ACS-ECS-Demo", "version": "1.0"}\n',
        SYSCONFIG: "# Cloud Assistant settings\nALIYUN_ASSIST_REGION=cn-hangzhou\n",
    }


def _install_client_sysvinit(w, rt):
    """The client's init.d script and its rc links."""
    w.file(
        SYSV_CLIENT,
        _render(
            "aliyun-service.init",
            CLIENT=rt["client"],
            PIDFILE=rt[CLIENT_PIDFILE],
            LOCKFILE=rt[CLIENT_LOCKFILE],
            FAULTS=rt[FAULTS_FILE],
            OWN_PIDFILE=rt[CLIENT_OWN_PIDFILE],
        ),
        0o755,
    )
    for level in "2345":
        w.symlink(f"etc/rc{level}.d/S50aliyun-service", "../init.d/aliyun-service")
    for level in "016":
        w.symlink(f"etc/rc{level}.d/K02aliyun-service", "../init.d/aliyun-service")


def _install_client_systemd(w, rt):
    """The client's unit, enabled offline the way `systemctl enable` would (an absolute link)."""
    w.file(f"{UNIT_DIR}/{CLIENT_UNIT}", _render(CLIENT_UNIT, CLIENT=rt["client"]))
    w.symlink(f"{WANTS_DIR}/{CLIENT_UNIT}", rt[f"{UNIT_DIR}/{CLIENT_UNIT}"])


def _register_watchdog(w, rt, init, client_unit):
    """The watchdog's unit, job or init script (with its rc links), registered to start at boot."""
    if init == "sysvinit":
        w.file(SYSV_DAEMON, _render("assist-daemon.init", DAEMON=rt[DAEMON], PIDFILE=rt[DAEMON_PIDFILE]), 0o755)
        for level in "2345":
            w.symlink(f"etc/rc{level}.d/S51assist-daemon", "../init.d/assist-daemon")
        for level in "016":
            w.symlink(f"etc/rc{level}.d/K01assist-daemon", "../init.d/assist-daemon")
    elif init == "systemd":
        w.file(f"{UNIT_DIR}/{DAEMON_UNIT}", _render(DAEMON_UNIT, DAEMON=rt[DAEMON], CLIENT_UNIT=client_unit))
        w.symlink(f"{WANTS_DIR}/{DAEMON_UNIT}", rt[f"{UNIT_DIR}/{DAEMON_UNIT}"])
    else:
        w.file(UPSTART_DAEMON_JOB, _render("assist-daemon.conf", DAEMON=rt[DAEMON]))


def install_watchdog(dest, *, init, runtime_root=None, python=sys.executable, client_unit=CLIENT_UNIT, restart_interval=0.1):
    """Write only the stand-in watchdog and its registration under dest, beside an agent
    installed otherwise (the vendor's real one: its watchdog is closed source).
    client_unit: the systemd unit the watchdog starts when the client is down."""
    if init not in INIT_MARKERS:
        raise ValueError(f"init must be 'sysvinit', 'systemd' or 'upstart', not {init!r}")
    root = PurePosixPath(runtime_root) if runtime_root else PurePosixPath(Path(dest).absolute())
    w, rt = _Writer(Path(dest).absolute()), _RuntimePaths(root)
    w.file(
        DAEMON,
        _render(
            "assist_daemon.py",
            PYTHON=python,
            ROOT=str(root),
            INIT=init,
            INTERVAL=float(restart_interval),
            DAEMON=DAEMON,
            DAEMON_PIDFILE=DAEMON_PIDFILE,
            DAEMON_LOCKFILE=DAEMON_LOCKFILE,
            FAULTS_FILE=FAULTS_FILE,
            SYSV_CLIENT=SYSV_CLIENT,
            SYSV_DAEMON=SYSV_DAEMON,
            CLIENT_UNIT=client_unit,
            DAEMON_UNIT_PATH=f"{UNIT_DIR}/{DAEMON_UNIT}",
            DAEMON_WANTS_PATH=f"{WANTS_DIR}/{DAEMON_UNIT}",
            UPSTART_DAEMON_JOB=UPSTART_DAEMON_JOB,
            INITCTL=INITCTL,
        ),
        0o755,
    )
    _register_watchdog(w, rt, init, client_unit)


def install(
    dest,
    *,
    init="sysvinit",
    runtime_root=None,
    python=sys.executable,
    version="2.5.3.650",
    restart_interval=0.1,
    init_marker=True,
):
    """Write a fake Cloud Assistant agent under dest; return a FakeAgent."""
    if init not in INIT_MARKERS:
        raise ValueError(f"init must be 'sysvinit', 'systemd' or 'upstart', not {init!r}")
    agent = FakeAgent(dest, runtime_root=runtime_root, init=init, version=version)
    rt = _RuntimePaths(agent.runtime_root)
    rt["client"] = rt[client_rel(version)]
    w = _Writer(agent.dest)

    w.file(
        client_rel(version), _render("aliyun-service.py", PYTHON=python, VERSION=version, PIDFILE=rt[CLIENT_OWN_PIDFILE]), 0o755
    )
    for tool in ("aliyun_assist_update", "acs-plugin-manager"):
        w.file(f"{SHARE}/{version}/{tool}", _source("plugin-tool.sh"), 0o755)
    for rel, text in protected_files(version).items():
        w.file(rel, text)

    install_watchdog(
        agent.dest, init=init, runtime_root=str(agent.runtime_root), python=python, restart_interval=restart_interval
    )
    if init == "sysvinit":
        _install_client_sysvinit(w, rt)
    elif init == "systemd":
        _install_client_systemd(w, rt)
    w.file(UPSTART_JOB, _render("aliyun-service.conf", CLIENT=rt["client"]))
    if init_marker:
        junk = bytes(range(256)) * 4
        w.file(INIT_MARKER, b"\x7fELF\x02\x01\x01\0" + junk + INIT_MARKERS[init] + junk, 0o755)
    return agent


def bare(dest, *, init="sysvinit"):
    """A system without the agent: only its init's /sbin/init (and an empty /etc), as a
    custom image or a machine from elsewhere has."""
    w = _Writer(Path(dest))
    junk = bytes(range(256)) * 4
    w.file(INIT_MARKER, b"\x7fELF\x02\x01\x01\0" + junk + INIT_MARKERS[init] + junk, 0o755)
    (Path(dest) / "etc").mkdir(exist_ok=True)
    return Path(dest)


class _RuntimePaths(dict):
    """rt[rel] -> the path of rel as seen at run time."""

    def __init__(self, root):
        super().__init__()
        self.root = root

    def __missing__(self, rel):
        return str(PurePosixPath(self.root, rel))


# ---------------------------------------------------------------------------
# Handle on an installed fake


class FakeAgent:
    """An installed fake agent.  Path attributes are host paths (under dest)."""

    def __init__(self, dest, *, runtime_root=None, init="sysvinit", version="2.5.3.650"):
        self.dest = Path(dest).absolute()
        self.runtime_root = PurePosixPath(runtime_root) if runtime_root else PurePosixPath(self.dest)
        if not self.runtime_root.is_absolute():
            raise ValueError(f"runtime_root must be absolute: {runtime_root!r}")
        self.init = init
        self.version = version
        self.client_path = self.dest / client_rel(version)
        self.daemon_dir = self.dest / DAEMON_DIR
        self.daemon_path = self.dest / DAEMON
        self.sysv_script = self.dest / SYSV_CLIENT

    def runtime_path(self, host_path):
        """The path a file under dest has when the scripts run."""
        return str(PurePosixPath(self.runtime_root, Path(host_path).relative_to(self.dest)))

    @property
    def _sandbox(self):
        return str(self.runtime_root) == str(self.dest)

    # -- processes ---------------------------------------------------------

    def _scan(self, wanted):
        """Live pids whose argv satisfies wanted(argv).  For a container root the
        process must also have dest as its root directory (seen from the host)."""
        root = None if self._sandbox else os.path.realpath(self.dest)
        found = []
        for pid in _all_pids():
            args = _cmdline(pid)
            if not args or not wanted(args):
                continue
            if root is not None and _proc_root(pid) != root:
                continue
            if _alive(pid):
                found.append(pid)
        return found

    def _find(self, wanted):
        """Like _scan, minus forked children: between fork and exec a child
        still shows its parent's argv. A process gone since the scan (no parent
        to read: _ppid 0) was such a short-lived child, and is left out too."""
        found = self._scan(wanted)
        return [pid for pid in found if _ppid(pid) not in (0, *found)]

    def client_pids(self):
        client = self.runtime_path(self.client_path)
        return self._find(lambda args: client in args[:2])

    def daemon_pids(self):
        daemon = self.runtime_path(self.daemon_path)
        return self._find(lambda args: daemon in args[:2] and "--stop" not in args and "--delete" not in args)

    def start(self):
        """Start client (init script) and watchdog (--start); wait until both run."""
        if self.init != "sysvinit" or not self._sandbox:
            raise RuntimeError("FakeAgent.start() is for sysvinit sandboxes only")
        for cmd in ([str(self.sysv_script), "start"], [str(self.daemon_path), "--start"]):
            subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
        if not wait_until(lambda: self.client_pids() and self.daemon_pids()):
            raise RuntimeError("fake agent did not come up")

    def start_watchdog(self):
        """Start the watchdog alone (--start); wait until it runs."""
        subprocess.run([str(self.daemon_path), "--start"], check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
        if not wait_until(self.daemon_pids):
            raise RuntimeError("fake watchdog did not come up")

    def remove_client(self):
        """Uninstall the client as its package would, leaving the watchdog: its init
        script and rc links, job and units, and its folder under usr/local/share."""
        for rel in (SYSV_CLIENT, UPSTART_JOB, f"{UNIT_DIR}/{CLIENT_UNIT}", f"{WANTS_DIR}/{CLIENT_UNIT}"):
            (self.dest / rel).unlink(missing_ok=True)
        for link in self.dest.glob("etc/rc[0-6].d/[SK][0-9][0-9]aliyun-service"):
            link.unlink()
        shutil.rmtree(self.dest / SHARE, ignore_errors=True)

    def kill_client(self, sig=signal.SIGKILL):
        """Kill the client behind everyone's back; return the pids signalled."""
        pids = self.client_pids()
        for pid in pids:
            _kill(pid, sig)
        return pids

    def cleanup(self, timeout=10.0):
        """SIGKILL every process of this fake (watchdog first), wait until gone."""
        if self._sandbox and str(self.dest) != "/":
            prefix = str(self.dest) + "/"
            refers = lambda args: any(prefix in a for a in args)  # noqa: E731
        else:
            paths = [
                self.runtime_path(p) for p in (self.client_path, self.daemon_path, self.sysv_script, self.dest / SYSV_DAEMON)
            ]
            refers = lambda args: any(p in args for p in paths)  # noqa: E731
        spare = _ancestors()

        def victims():
            return [p for p in self._scan(refers) if p not in spare]

        def kill_all():
            for pid in self.daemon_pids():  # stop the respawner first
                _kill(pid, signal.SIGKILL)
            pids = victims()
            for pid in pids:
                _kill(pid, signal.SIGKILL)
            return not pids

        if not wait_until(kill_all, timeout=timeout, interval=0.05):
            raise RuntimeError(f"processes survived cleanup: {victims()}")

    # -- faults and files ------------------------------------------------

    def set_fault(self, name):
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {FAULTS}")
        path = self.dest / FAULTS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            f.write(name + "\n")

    def clear_faults(self):
        (self.dest / FAULTS_FILE).unlink(missing_ok=True)

    def protected_snapshot(self):
        """{relative path: (sha256 or 'dir' or 'link:TARGET', mode)} of the
        never-delete tree, for before/after comparisons."""
        snap = {}
        for rel in (SHARE, SYSCONFIG):
            top = self.dest / rel
            if top.is_file():
                snap[rel] = _fingerprint(top)
                continue
            for dirpath, dirnames, filenames in os.walk(top):
                for name in dirnames + filenames:
                    path = Path(dirpath, name)
                    snap[str(path.relative_to(self.dest))] = _fingerprint(path)
        return snap


def _fingerprint(path):
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return ("link:" + os.readlink(path), mode)
    if stat.S_ISDIR(st.st_mode):
        return ("dir", mode)
    return (hashlib.sha256(Path(path).read_bytes()).hexdigest(), mode)


def _proc_root(pid):
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:
        return None


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


@contextlib.contextmanager
def running(roots):
    """A fresh fake agent (client and watchdog running) in each of ``roots`` ({name:
    folder}, each emptied first), yielded as {name: FakeAgent} and killed afterwards.
    Whatever happened meanwhile, the never-delete trees must be byte-identical after."""
    agents, never_delete = {}, {}
    try:
        for name, root in roots.items():
            shutil.rmtree(root, ignore_errors=True)
            Path(root).mkdir(parents=True)
            agents[name] = install(root, init="sysvinit")
            never_delete[name] = agents[name].protected_snapshot()
            agents[name].start()
        yield agents
    finally:
        for agent in agents.values():
            agent.cleanup()
    assert {name: agent.protected_snapshot() for name, agent in agents.items()} == never_delete
