"""A faithful fake of Alibaba Cloud's Cloud Assistant agent, with real processes.

``install(dest)`` writes the client (``aliyun-service``), the watchdog
(``assist_daemon``), their init-system registrations and the "never delete"
tree into a directory.  The scripts are small Python / POSIX sh programs that
behave like the real ones: the init script starts the client detached, the
watchdog polls the init system and restarts the client when it is down.

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

import hashlib
import inspect
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

__all__ = ["install", "FakeAgent", "wait_until", "FAULTS"]

FAULTS = ("daemon-stop-fails", "daemon-delete-fails", "client-stop-fails", "client-stop-hangs")

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
# /proc helpers.  _alive and _cmdline are also copied verbatim into the
# watchdog script (via inspect.getsource), so they must stay self-contained.


def _alive(pid):
    """True if /proc/PID exists and is not a zombie (or dead) process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    # The comm field may hold spaces and parentheses: the state follows the last ")".
    state = data[data.rfind(b")") + 2:][:1]
    return state not in (b"Z", b"X", b"x", b"")


def _cmdline(pid):
    """argv of PID as a list of str ([] if gone or a kernel thread)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]]


def _all_pids():
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    return int(data[data.rfind(b")") + 2:].split()[1])


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


# ---------------------------------------------------------------------------
# Script templates.  @NAME@ placeholders are replaced by _render().

CLIENT_PY = '''#!@PYTHON@
"""Fake Cloud Assistant client (aliyun-service), written by tests/support/fakeagent.py."""
import os
import signal
import sys
import time

VERSION = @VERSION@
PIDFILE = @PIDFILE@


def main(args):
    if args in (["-v"], ["--version"]):
        print(VERSION)
        return 0
    if args:
        print("usage: aliyun-service [-v|--version]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    os.makedirs(os.path.dirname(PIDFILE), exist_ok=True)
    with open(PIDFILE, "w") as f:
        f.write("%d\\n" % os.getpid())
    # Like the real agent, the pid file is left behind (stale) when it exits.
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''

DAEMON_PY = '''#!@PYTHON@
"""Fake Cloud Assistant watchdog (assist_daemon), written by tests/support/fakeagent.py.

No arguments: watch loop in the foreground.  --start: the same, daemonized.
--stop: stop the running watchdog.  --delete: unregister it from boot.
"""
import fcntl
import glob
import os
import signal
import subprocess
import sys
import time

ROOT = @ROOT@
INIT = @INIT@
INTERVAL = @INTERVAL@


def path(rel):
    return os.path.join(ROOT, rel)


SELF = path(@DAEMON@)
PIDFILE = path(@DAEMON_PIDFILE@)
LOCKFILE = path(@DAEMON_LOCKFILE@)
FAULTS = path(@FAULTS_FILE@)
SYSV_CLIENT = path(@SYSV_CLIENT@)
SYSV_SELF = path(@SYSV_DAEMON@)
UNIT = path(@DAEMON_UNIT_PATH@)
WANTS = path(@DAEMON_WANTS_PATH@)
UPSTART_SELF = path(@UPSTART_DAEMON_JOB@)
INITCTL = path(@INITCTL@)
SYSTEMD_RUNNING = path("run/systemd/system")


@HELPERS@

def has_fault(name):
    try:
        with open(FAULTS) as f:
            return name in f.read().split()
    except OSError:
        return False


def is_watchdog(pid):
    args = _cmdline(pid)
    return (_alive(pid) and SELF in args[:2]
            and "--stop" not in args and "--delete" not in args)


def running_pid():
    try:
        with open(PIDFILE) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if pid != os.getpid() and is_watchdog(pid) else None


def run(cmd):
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode
    except OSError:
        return 127


def output(cmd):
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout
    except OSError:
        return ""


def client_running():
    if INIT == "systemd":
        return run(["systemctl", "is-active", "--quiet", "aliyun.service"]) == 0
    if INIT == "upstart":  # "aliyun-service start/running, process 42"
        return " start/" in output([INITCTL, "status", "aliyun-service"])
    return run([SYSV_CLIENT, "status"]) == 0


def start_client():
    if INIT == "systemd":
        run(["systemctl", "start", "aliyun.service"])
    elif INIT == "upstart":
        run([INITCTL, "start", "aliyun-service"])
    else:
        run([SYSV_CLIENT, "start"])


# SIGTERM: finish the current check, or leave at once while sleeping.
stopping = False
sleeping = False


def on_term(signum, frame):
    global stopping
    stopping = True
    if sleeping:
        raise SystemExit(0)


def nap():
    global sleeping
    sleeping = True
    try:
        if not stopping:
            time.sleep(INTERVAL)
    finally:
        sleeping = False


def take_lock():
    """Hold an exclusive lock for the watchdog's lifetime (one watchdog at a time)."""
    os.makedirs(os.path.dirname(LOCKFILE), exist_ok=True)
    fd = os.open(LOCKFILE, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def write_pidfile():
    tmp = PIDFILE + ".new"
    with open(tmp, "w") as f:
        f.write("%d\\n" % os.getpid())
    os.replace(tmp, PIDFILE)


def forget_pidfile():
    try:
        with open(PIDFILE) as f:
            if f.read().strip() == str(os.getpid()):
                os.unlink(PIDFILE)
    except OSError:
        pass


def watch(ready=None):
    """The watch loop.  ready(msg) is called once the pid file is written."""
    signal.signal(signal.SIGTERM, on_term)
    if take_lock() is None:  # another watchdog already runs
        if ready:
            ready(b"running")
        return 0
    write_pidfile()
    if ready:
        ready(b"started")
    try:
        while not stopping:
            if not client_running() and not stopping:
                start_client()
            nap()
    finally:
        forget_pidfile()
    return 0


def daemonize():
    """Double fork + setsid; return 0 once the daemon has written its pid file."""
    if running_pid():
        return 0
    r, w = os.pipe()
    child = os.fork()
    if child:
        os.close(w)
        os.waitpid(child, 0)
        with os.fdopen(r, "rb") as pipe:
            return 0 if pipe.read() else 1
    os.close(r)
    os.setsid()
    if os.fork():
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2 and int(name) != w:
            try:
                os.close(int(name))
            except OSError:
                pass

    def ready(msg):
        os.write(w, msg)
        os.close(w)

    try:
        code = watch(ready)
    except SystemExit as exc:
        code = exc.code or 0
    os._exit(code)


def stop():
    if has_fault("daemon-stop-fails"):
        print("assist_daemon: failed to stop the daemon (injected fault)", file=sys.stderr)
        return 3
    if os.path.exists(UNIT) and os.path.isdir(SYSTEMD_RUNNING):
        run(["systemctl", "stop", "AssistDaemon.service"])
    if os.path.exists(UPSTART_SELF) and os.access(INITCTL, os.X_OK):
        run([INITCTL, "stop", "assist-daemon"])  # or UpStart would respawn it
    pid = running_pid()
    if pid is None:
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return 0
    deadline = time.monotonic() + 5
    while is_watchdog(pid):
        if time.monotonic() > deadline:
            print("assist_daemon: pid %d did not stop" % pid, file=sys.stderr)
            return 1
        time.sleep(0.02)
    return 0


def remove(p):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def delete():
    if has_fault("daemon-delete-fails"):
        print("assist_daemon: failed to delete the daemon (injected fault)", file=sys.stderr)
        return 4
    remove(SYSV_SELF)
    for link in glob.glob(path("etc/rc[0-6S].d/[SK][0-9][0-9]assist-daemon")):
        remove(link)
    remove(WANTS)
    remove(UNIT)
    remove(UPSTART_SELF)
    if INIT == "systemd" and os.path.isdir(SYSTEMD_RUNNING):
        run(["systemctl", "daemon-reload"])
    return 0


def main(args):
    if not args:
        return watch()
    verbs = {"--start": daemonize, "--stop": stop, "--delete": delete}
    if len(args) == 1 and args[0] in verbs:
        return verbs[args[0]]()
    print("usage: assist_daemon [--start|--stop|--delete]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''

# Shared by both init scripts.  Uses builtins where it can: the watchdog runs
# "status" every restart_interval.
SH_HELPERS = r'''# Alive means /proc/PID exists and is not a zombie: PID 1 may reap orphans
# late here, and "kill -0" succeeds on a zombie.
is_alive() {
    case $1 in ''|*[!0-9]*) return 1 ;; esac
    { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
    state=${stat##*") "}
    case ${state%% *} in Z|X|x) return 1 ;; esac
    return 0
}

# runs PID PROGRAM: PID is alive and PROGRAM is one of its arguments.
runs() {
    is_alive "$1" || return 1
    { cmd=$(tr '\0' ' ' < "/proc/$1/cmdline"); } 2>/dev/null || return 1
    case " $cmd " in *" $2 "*) return 0 ;; esac
    return 1
}

# Sets $pidval from the pid file (empty if none).
read_pidfile() {
    pidval=
    { read -r pidval < "$PIDFILE"; } 2>/dev/null
    return 0
}'''

SYSV_CLIENT_SH = r'''#!/bin/sh
### BEGIN INIT INFO
# Provides:          aliyun-service
# Required-Start:    $local_fs $remote_fs $network
# Required-Stop:     $local_fs $remote_fs $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: Aliyun Assist (Cloud Assistant) client
# Description:       Starts and stops aliyun-service.  Fake written by
#                    tests/support/fakeagent.py.
### END INIT INFO

CLIENT=@CLIENT@
PIDFILE=@PIDFILE@
LOCKFILE=@LOCKFILE@
FAULTS=@FAULTS@

@HELPERS@

has_fault() {
    [ -f "$FAULTS" ] && grep -qx "$1" "$FAULTS"
}

client_running() {
    read_pidfile
    runs "$pidval" "$CLIENT"
}

# Remove the pid file, unless a concurrent start has already replaced it.
forget_pid() {
    old=$pidval
    read_pidfile
    [ "$pidval" = "$old" ] && rm -f "$PIDFILE"
    return 0
}

do_start() {
    mkdir -p "${PIDFILE%/*}"
    # Serialise starts: the watchdog and an operator may race.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$LOCKFILE"
        flock 9
    fi
    if client_running; then
        echo Running
        return 0
    fi
    # "9>&-": the client must not inherit (and so hold) the lock.
    if command -v setsid >/dev/null 2>&1; then
        setsid "$CLIENT" </dev/null >/dev/null 2>&1 9>&- &
    else
        "$CLIENT" </dev/null >/dev/null 2>&1 9>&- &
    fi
    echo $! > "$PIDFILE.new" && mv -f "$PIDFILE.new" "$PIDFILE"
}

do_stop() {
    if has_fault client-stop-hangs; then
        # Injected fault: hang for an hour, in short sleeps so that killing
        # this shell ends the hang.
        i=0
        while [ $i -lt 3600 ]; do sleep 1; i=$((i + 1)); done
    fi
    if has_fault client-stop-fails; then
        echo "aliyun-service: failed to stop aliyun-service (injected fault)" >&2
        return 1
    fi
    if ! client_running; then
        forget_pid
        return 0
    fi
    pid=$pidval
    kill -TERM "$pid" 2>/dev/null
    i=0
    while runs "$pid" "$CLIENT"; do
        if [ $i -ge 100 ]; then
            echo "aliyun-service: process $pid is still running" >&2
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    pidval=$pid
    forget_pid
}

case "$1" in
    start) do_start ;;
    stop) do_stop ;;
    restart) do_stop && do_start ;;
    status)
        if client_running; then
            echo Running
            exit 0
        fi
        echo Stopped
        exit 1
        ;;
    *)
        echo "Usage: $0 {start|stop|restart|status}" >&2
        exit 2
        ;;
esac
'''

SYSV_DAEMON_SH = r'''#!/bin/sh
### BEGIN INIT INFO
# Provides:          assist-daemon
# Required-Start:    $local_fs $remote_fs aliyun-service
# Required-Stop:     $local_fs $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: Cloud Assistant watchdog (assist_daemon)
# Description:       Fake written by tests/support/fakeagent.py.
### END INIT INFO

DAEMON=@DAEMON@
PIDFILE=@PIDFILE@

@HELPERS@

case "$1" in
    start)
        [ -x "$DAEMON" ] || exit 5
        exec "$DAEMON" --start
        ;;
    stop)
        [ -x "$DAEMON" ] || exit 0
        exec "$DAEMON" --stop
        ;;
    restart)
        "$DAEMON" --stop && exec "$DAEMON" --start
        ;;
    status)
        read_pidfile
        if runs "$pidval" "$DAEMON"; then
            echo Running
            exit 0
        fi
        echo Stopped
        exit 1
        ;;
    *)
        echo "Usage: $0 {start|stop|restart|status}" >&2
        exit 2
        ;;
esac
'''

CLIENT_UNIT_TEXT = '''[Unit]
Description=aliyun-assist
After=network-online.target

[Service]
Type=simple
ExecStart=@CLIENT@
Restart=on-failure
RestartSec=120
KillMode=process

[Install]
WantedBy=multi-user.target
'''

DAEMON_UNIT_TEXT = '''[Unit]
Description=Cloud Assistant daemon (assist_daemon)
After=aliyun.service

[Service]
Type=simple
ExecStart=@DAEMON@
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
'''

UPSTART_TEXT = '''# aliyun-service - Aliyun Assist (Cloud Assistant) client
start on runlevel [2345]
stop on runlevel [!2345]

respawn

exec @CLIENT@
'''

UPSTART_DAEMON_TEXT = '''# assist-daemon - Cloud Assistant watchdog (assist_daemon)
# Fake written by tests/support/fakeagent.py.
start on runlevel [2345]
stop on runlevel [!2345]

respawn

exec @DAEMON@
'''

# What `strings /sbin/init | grep ...` finds in the real binaries.
INIT_MARKERS = {
    "systemd": b"/lib/systemd/systemd-shutdown\0/lib/systemd/system-generators\0",
    "sysvinit": b"INIT_VERSION=sysvinit-3.06\0@(#)init.c  sysvinit\0",
    "upstart": b"UPSTART_CONFDIR\0/var/log/upstart\0/com/ubuntu/Upstart\0",  # 1.13.2, built here
}


def _render(template, **values):
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    return template


def _proc_helpers_source():
    return "\n\n".join(inspect.getsource(f) for f in (_alive, _cmdline))


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
        if path.is_symlink():
            path.unlink()
        path.write_bytes(data)
        os.chmod(path, mode)
        return path

    def symlink(self, rel, target):
        path = self._target(rel)
        if path.is_symlink() or path.exists():
            path.unlink()
        os.symlink(target, path)


def _protected_files(version):
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


def _install_sysvinit(w, rt):
    """The init.d scripts and their rc links, for client and watchdog."""
    w.file(SYSV_CLIENT, _render(
        SYSV_CLIENT_SH, HELPERS=SH_HELPERS, CLIENT=shlex.quote(rt["client"]),
        PIDFILE=shlex.quote(rt[CLIENT_PIDFILE]), LOCKFILE=shlex.quote(rt[CLIENT_LOCKFILE]),
        FAULTS=shlex.quote(rt[FAULTS_FILE])), 0o755)
    w.file(SYSV_DAEMON, _render(
        SYSV_DAEMON_SH, HELPERS=SH_HELPERS, DAEMON=shlex.quote(rt[DAEMON]),
        PIDFILE=shlex.quote(rt[DAEMON_PIDFILE])), 0o755)
    for level in "2345":
        w.symlink(f"etc/rc{level}.d/S50aliyun-service", "../init.d/aliyun-service")
        w.symlink(f"etc/rc{level}.d/S51assist-daemon", "../init.d/assist-daemon")
    for level in "016":
        w.symlink(f"etc/rc{level}.d/K02aliyun-service", "../init.d/aliyun-service")
        w.symlink(f"etc/rc{level}.d/K01assist-daemon", "../init.d/assist-daemon")


def _install_systemd(w, rt):
    """Both units, enabled offline the way `systemctl enable` would (absolute links)."""
    w.file(f"{UNIT_DIR}/{CLIENT_UNIT}", _render(CLIENT_UNIT_TEXT, CLIENT=rt["client"]))
    w.file(f"{UNIT_DIR}/{DAEMON_UNIT}", _render(DAEMON_UNIT_TEXT, DAEMON=rt[DAEMON]))
    for unit in (CLIENT_UNIT, DAEMON_UNIT):
        w.symlink(f"{WANTS_DIR}/{unit}", rt[f"{UNIT_DIR}/{unit}"])


def install(dest, *, init="sysvinit", runtime_root=None, python=sys.executable,
            version="2.5.3.650", restart_interval=0.1, init_marker=True):
    """Write a fake Cloud Assistant agent under dest; return a FakeAgent."""
    if init not in INIT_MARKERS:
        raise ValueError(f"init must be 'sysvinit', 'systemd' or 'upstart', not {init!r}")
    agent = FakeAgent(dest, runtime_root=runtime_root, init=init, version=version)
    rt = _RuntimePaths(agent.runtime_root)
    rt["client"] = rt[client_rel(version)]
    w = _Writer(agent.dest)

    w.file(client_rel(version), _render(
        CLIENT_PY, PYTHON=python, VERSION=repr(version),
        PIDFILE=repr(rt[CLIENT_OWN_PIDFILE])), 0o755)
    for tool in ("aliyun_assist_update", "acs-plugin-manager"):
        w.file(f"{SHARE}/{version}/{tool}", "#!/bin/sh\nexit 0\n", 0o755)
    for rel, text in _protected_files(version).items():
        w.file(rel, text)

    w.file(DAEMON, _render(
        DAEMON_PY, PYTHON=python, ROOT=repr(str(agent.runtime_root)), INIT=repr(init),
        INTERVAL=repr(float(restart_interval)), HELPERS=_proc_helpers_source(),
        DAEMON=repr(DAEMON), DAEMON_PIDFILE=repr(DAEMON_PIDFILE),
        DAEMON_LOCKFILE=repr(DAEMON_LOCKFILE), FAULTS_FILE=repr(FAULTS_FILE),
        SYSV_CLIENT=repr(SYSV_CLIENT), SYSV_DAEMON=repr(SYSV_DAEMON),
        DAEMON_UNIT_PATH=repr(f"{UNIT_DIR}/{DAEMON_UNIT}"),
        DAEMON_WANTS_PATH=repr(f"{WANTS_DIR}/{DAEMON_UNIT}"),
        UPSTART_DAEMON_JOB=repr(UPSTART_DAEMON_JOB), INITCTL=repr(INITCTL)), 0o755)

    if init == "sysvinit":
        _install_sysvinit(w, rt)
    elif init == "systemd":
        _install_systemd(w, rt)
    else:
        w.file(UPSTART_DAEMON_JOB, _render(UPSTART_DAEMON_TEXT, DAEMON=rt[DAEMON]))
    w.file(UPSTART_JOB, _render(UPSTART_TEXT, CLIENT=rt["client"]))
    if init_marker:
        junk = bytes(range(256)) * 4
        w.file(INIT_MARKER, b"\x7fELF\x02\x01\x01\0" + junk + INIT_MARKERS[init] + junk, 0o755)
    return agent


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
        still shows its parent's argv."""
        found = self._scan(wanted)
        return [pid for pid in found if _ppid(pid) not in found]

    def client_pids(self):
        client = self.runtime_path(self.client_path)
        return self._find(lambda args: client in args[:2])

    def daemon_pids(self):
        daemon = self.runtime_path(self.daemon_path)
        return self._find(lambda args: daemon in args[:2]
                          and "--stop" not in args and "--delete" not in args)

    def start(self):
        """Start client (init script) and watchdog (--start); wait until both run."""
        if self.init != "sysvinit" or not self._sandbox:
            raise RuntimeError("FakeAgent.start() is for sysvinit sandboxes only")
        for cmd in ([str(self.sysv_script), "start"], [str(self.daemon_path), "--start"]):
            subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=15)
        if not wait_until(lambda: self.client_pids() and self.daemon_pids()):
            raise RuntimeError("fake agent did not come up")

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
            paths = [self.runtime_path(p) for p in (
                self.client_path, self.daemon_path, self.sysv_script, self.dest / SYSV_DAEMON)]
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
