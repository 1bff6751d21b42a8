"""The init systems' tools as the unit tier meets them: a cmd.run_all that records each
command instead of running it, and answers as the real tools answer.

The outputs and exit codes are the ones measured on real systemd 252, UpStart 1.13.2 and
0.6.5, sysvinit 3.06 and Debian's update-rc.d; the tests assert the exact commands a verb
runs, how many, and the files a start-at-boot change writes. The real tools are
exercised by tests/system. Beside them: the files the vendor's installer writes (the
client program, a systemd unit, an UpStart job, the watchdog), made in tmp_path.
"""

import os

import assist_settings

# Importable once tests/unit/conftest.py has put _utils on sys.path, as Salt does.
import assist_sysvinit


class Recorder:
    """cmd.run_all that records each argv and answers from a table of replies: the
    first reply whose key is a prefix of the argv (a tuple) wins."""

    def __init__(self, replies, after=None):
        self.replies, self.calls = replies, []
        # {argv prefix: replies}: what the system answers once such a command has run
        self.after = after or {}

    def __call__(self, argv, **kwargs):
        assert kwargs["python_shell"] is False and kwargs["timeout"] > 0
        self.calls.append(list(argv))
        reply = next((reply for prefix, reply in self.replies.items() if tuple(argv[: len(prefix)]) == prefix), (0, ""))
        for prefix, replies in self.after.items():
            if tuple(argv[: len(prefix)]) == prefix:
                self.replies = {**self.replies, **replies}
        return {"retcode": reply[0], "stdout": reply[1], "stderr": ""}

    def commands(self):
        return [" ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv)) for argv in self.calls]


# --------------------------------------------------------------------------- systemd


SHOW = "systemctl show aliyun.service --property=ActiveState,SubState,LoadState,FragmentPath,ExecStart"


def systemctl(show, is_enabled):
    """The replies of `systemctl show` (the properties the backend asks for) and of
    `systemctl is-enabled`: (exit code, output) each."""
    return {("systemctl", "show"): show, ("systemctl", "is-enabled"): is_enabled}


SYSTEMD_ACTIVE = systemctl((0, "ActiveState=active\nLoadState=loaded\n"), (0, "enabled\n"))
SYSTEMD_STOPPED = systemctl((0, "ActiveState=inactive\nLoadState=loaded\n"), (1, "disabled\n"))
# The vendor's unit restarts a client that crashed or was killed only after 120 s
# (Restart=on-failure, RestartSec=120); meanwhile systemd says this, and nothing runs.
SYSTEMD_RESTART_PENDING = systemctl((0, "ActiveState=activating\nSubState=auto-restart\nLoadState=loaded\n"), (0, "enabled\n"))
# What systemd 252 says of a unit no file defines.
SYSTEMD_NO_UNIT = systemctl((0, "ActiveState=inactive\nSubState=dead\nLoadState=not-found\nFragmentPath=\nExecStart=\n"), (1, ""))
# The agent's unit, as systemd and the backend see it when none is installed.
NO_UNIT = (
    "the agent's unit (aliyun.service or aliyun-service.service, or one whose ExecStart runs the agent) "
    "(assist:lookup:systemd_unit)"
)


def install_client(client_dir, version="2.2.3.578"):
    program = client_dir / version / "aliyun-service"
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text("#!/bin/sh\n")
    return program


def install_unit(directory, name, program):
    """A unit file as the vendor's installer writes it (the parts that matter)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = f"[Unit]\nConditionFileIsExecutable={program}\n\n[Service]\nExecStart={program}\nRestart=on-failure\n"
    (directory / name).write_text(text)
    return directory / name


def install_watchdog(daemon_dir):
    daemon_dir.mkdir(parents=True)
    (daemon_dir / "assist_daemon").write_text("#!/bin/sh\n")
    (daemon_dir / "assist_daemon").chmod(0o755)


# --------------------------------------------------------------------------- UpStart


UPSTART_JOB = """# aliyun-service - Aliyun Assist
start on runlevel [2345]
stop on runlevel [!2345]

respawn

exec /usr/local/share/aliyun-assist/2.5.3.650/aliyun-service
"""


def initctl(version, running=True):
    """Replies of a real initctl (measured), keyed by the argv after the initctl path."""

    def reply(argv, **kwargs):
        args = argv[1:]
        if args == ["--version"]:
            return {"retcode": 0, "stdout": f"initctl (upstart {version})\n", "stderr": ""}
        if args == ["status", "aliyun-service"]:
            out = "aliyun-service start/running, process 4\n" if running else "aliyun-service stop/waiting\n"
            return {"retcode": 0, "stdout": out, "stderr": ""}
        return {"retcode": 0, "stdout": "", "stderr": ""}

    return reply


# --------------------------------------------------------------------------- sysvinit


def sysvinit_backend(cfg_overrides, funcs):
    cfg = assist_settings.load(cfg_overrides)
    return assist_sysvinit.Sysvinit(cfg, funcs, {}, "set by assist:lookup:init_system")
