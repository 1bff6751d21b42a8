#!@PYTHON@
"""Fake Cloud Assistant watchdog (assist_daemon).

No arguments: watch loop in the foreground.  --start: the same, daemonized.
--stop: stop the running watchdog.  --delete: unregister it from boot.

Source: tests/support/agent/assist_daemon.py, installed by tests/support/fakeagent.py,
which also imports it for alive() and cmdline() (importing it runs nothing).
"""

import fcntl
import glob
import os
import signal
import subprocess
import sys
import time

ROOT = "@ROOT@"  # "/" in a container; the sandbox directory on the host
INIT = "@INIT@"  # "sysvinit", "systemd" or "upstart"
INTERVAL = "@INTERVAL@"  # installed as a number: seconds between two looks at the client
CLIENT_UNIT = "@CLIENT_UNIT@"  # the client's systemd unit (the vendor's installer picks its name)


def path(rel):
    return os.path.join(ROOT, rel)


SELF = path("@DAEMON@")
PIDFILE = path("@DAEMON_PIDFILE@")
LOCKFILE = path("@DAEMON_LOCKFILE@")
FAULTS = path("@FAULTS_FILE@")
SYSV_CLIENT = path("@SYSV_CLIENT@")
SYSV_SELF = path("@SYSV_DAEMON@")
UNIT = path("@DAEMON_UNIT_PATH@")
WANTS = path("@DAEMON_WANTS_PATH@")
UPSTART_SELF = path("@UPSTART_DAEMON_JOB@")
INITCTL = path("@INITCTL@")
SYSTEMD_RUNNING = path("run/systemd/system")


# /proc helpers.  PID 1 may reap orphans late, so a dead daemon can linger as a
# zombie: a process counts as alive only if it exists and is not a zombie.


def alive(pid):
    """True if /proc/PID exists and is not a zombie (or dead) process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    # The comm field may hold spaces and parentheses: the state follows the last ")".
    state = data[data.rfind(b")") + 2 :][:1]
    return state not in (b"Z", b"X", b"x", b"")


def cmdline(pid):
    """argv of PID as a list of str ([] if gone or a kernel thread)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]]


def has_fault(name):
    try:
        with open(FAULTS) as f:
            return name in f.read().split()
    except OSError:
        return False


def is_watchdog(pid):
    args = cmdline(pid)
    return alive(pid) and SELF in args[:2] and "--stop" not in args and "--delete" not in args


def running_pid():
    try:
        with open(PIDFILE) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if pid != os.getpid() and is_watchdog(pid) else None


def run(cmd):
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    except OSError:
        return 127


def output(cmd):
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    except OSError:
        return ""


def client_running():
    if INIT == "systemd":
        return run(["systemctl", "is-active", "--quiet", CLIENT_UNIT]) == 0
    if INIT == "upstart":  # "aliyun-service start/running, process 42"
        return " start/" in output([INITCTL, "status", "aliyun-service"])
    return run([SYSV_CLIENT, "status"]) == 0


def start_client():
    if INIT == "systemd":
        run(["systemctl", "start", CLIENT_UNIT])
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
        f.write("%d\n" % os.getpid())
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
