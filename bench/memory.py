"""5. Memory: a minion's peak RSS (VmHWM from /proc) after `assist.status`, against the
same minion without the project's modules synced, after `test.ping`.

The minion runs with `multiprocessing: False`, so jobs run in threads of the main
minion process and whatever a job loads stays in that process: its VmHWM is the figure.
(With the default, each job runs in a short-lived forked process, whose peak cannot be
read after it exits.) The sum over all the minion's processes is recorded too.

"The same minion": one minion id, configuration and key, started afresh for each sample;
its synced extension modules (extension_modules, from a real saltutil.sync_all) are moved
out of the way for the baseline samples and back for the measured ones.
"""

import os
import shutil

import psutil
from common import Row, log, median

GOAL_MB = 5.0
NAME = "bench-mem"
CALLS = 3  # calls made before reading the peak


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")


def peaks(factory):
    """(main process peak, sum over the minion's processes), in MB."""
    main = factory.pid
    tree = [main] + [child.pid for child in psutil.Process(main).children(recursive=True)]
    total = 0
    for pid in tree:
        try:
            total += vm_hwm_kb(pid)
        except (OSError, RuntimeError):
            pass  # a process that ended meanwhile
    return vm_hwm_kb(main) / 1024, total / 1024


class MemoryMinion:
    """One minion whose synced modules can be taken away and given back."""

    def __init__(self, fleet):
        self.fleet = fleet
        self.factory = fleet.minion_factory(NAME, extra={"multiprocessing": False})
        self.extmods = self.factory.config["extension_modules"]
        self.aside = self.extmods + ".synced"

    def sync_once(self):
        self.fleet.start_minion(NAME, self.factory)
        self.fleet.call([NAME], "saltutil.sync_all", check=lambda value: isinstance(value, dict))
        self.fleet.stop_minion(NAME)
        self.take_away()

    def take_away(self):
        os.rename(self.extmods, self.aside)

    def give_back(self):
        """Put the synced modules back (a plain start may have made an empty extmods)."""
        if os.path.isdir(self.extmods):
            shutil.rmtree(self.extmods)
        os.rename(self.aside, self.extmods)

    def sample(self, synced, function, check):
        if synced:
            self.give_back()
        try:
            self.fleet.start_minion(NAME, self.factory)
            for _ in range(CALLS):
                self.fleet.call([NAME], function, check=check)
            return peaks(self.factory)
        finally:
            self.fleet.stop_minion(NAME)
            if synced:
                self.take_away()


def is_status(value):
    return isinstance(value, dict) and value.get("client", {}).get("running") is True


def rows(fleet, pairs):
    log(f"memory: {pairs} pair(s) of minion starts")
    minion = MemoryMinion(fleet)
    minion.sync_once()
    plain, synced = [], []
    for _ in range(pairs):
        plain.append(minion.sample(False, "test.ping", lambda value: value is True))
        synced.append(minion.sample(True, "assist.status", is_status))
    more = median([main for main, _ in synced]) - median([main for main, _ in plain])
    more_total = median([total for _, total in synced]) - median([total for _, total in plain])
    return [
        Row(
            key="memory",
            measure="5 minion peak RSS (main process)",
            subject=f"status {median([m for m, _ in synced]):.1f} MB",
            baseline=f"ping {median([m for m, _ in plain]):.1f} MB",
            figure=f"{more:+.1f} MB",
            goal=f"< +{GOAL_MB:.0f} MB",
            met=more < GOAL_MB,
            note=f"all processes: {more_total:+.1f} MB",
            data={
                "synced_status_mb": synced,
                "plain_ping_mb": plain,
                "difference_mb": more,
                "difference_all_processes_mb": more_total,
            },
        )
    ]
