"""2. Processes per call on systemd, where systemd cannot run here (no systemd as PID 1):
the commands the module would run are recorded, not run.

The module (loaded without a minion) manages a fake agent installed for systemd in a
sandbox that has /run/systemd/system (systemd's own "systemd runs" test). A recorder
stands in for cmd.run_all and answers like systemctl would for a unit that is loaded:
active and enabled until `systemctl stop`, active again after `systemctl start`.
"""

import shutil

import plainmodule
from tests.support import fakeagent


class RecordedSystemd:
    """cmd.run_all for systemctl and the watchdog: records, answers, runs nothing."""

    def __init__(self):
        self.active = True
        self.enabled = True
        self.commands = []

    def __call__(self, argv, **kwargs):
        self.commands.append(list(argv))
        if argv[0] != "systemctl":  # assist_daemon --stop / --delete
            return answer(0)
        verb = argv[1]
        if verb == "show":
            state = "active" if self.active else "inactive"
            return answer(0, f"ActiveState={state}\nLoadState=loaded\n")
        if verb == "is-enabled":
            return answer(0 if self.enabled else 1, "enabled" if self.enabled else "disabled")
        if verb in ("stop", "start", "restart"):
            self.active = verb != "stop"
        if verb in ("enable", "disable"):
            self.enabled = verb == "enable"
        return answer(0)


def answer(retcode, stdout=""):
    return {"retcode": retcode, "stdout": stdout, "stderr": "", "pid": 0}


def sandbox(work):
    root = work / "systemd-sandbox"
    shutil.rmtree(root, ignore_errors=True)
    fakeagent.install(root, init="systemd")
    (root / "run" / "systemd" / "system").mkdir(parents=True)
    return root


def count(work):
    """{scenario: counts} for status, full stop, stop again, start (in that order)."""
    recorder = RecordedSystemd()
    root = sandbox(work)
    module = plainmodule.load({"root": str(root), "verify_seconds": 2}, work, recorder)
    calls = [("status", "status"), ("stop (watchdog present)", "stop"),
             ("stop (already stopped)", "stop"), ("start", "start")]
    counts = {}
    for scenario, function in calls:
        recorder.commands.clear()
        module.__context__ = {}
        getattr(module, function)()
        counts[scenario] = {"cmd.run_all": len(recorder.commands),
                            "commands": list(recorder.commands)}
    shutil.rmtree(root)
    return counts
