"""2. Stop latency: the module in-process through Salt's loader (bench/inproc_worker.py)
against the vendor's bare commands, each on a fake agent with real processes.

(The processes each call starts are counted by the unit tier over recorded commands,
tests/unit/utils/test_assist_<init system>.py, not here.)"""

import json
import select
import subprocess
import sys

from common import BENCH, Row, log, median, median_said

STOP_GOAL = 1.5


class Worker:
    """The worker process and its request/reply protocol (JSON lines)."""

    def __init__(self, work, log_path):
        self.log = open(log_path, "ab")  # noqa: SIM115  (closed in close())
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH / "inproc_worker.py"), str(work)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        try:
            self.pid = self._reply(timeout=120)["pid"]
        except Exception:
            self.process.kill()
            self.process.wait()
            raise

    def request(self, op, timeout=60, **fields):
        self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.process.stdin.flush()
        return self._reply(timeout)

    def _reply(self, timeout):
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the in-process worker did not answer within {timeout} s (its log: {self.log.name})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"in-process worker: {reply['error']}")
        return reply["ok"]

    def close(self):
        try:
            if self.process.poll() is None:
                self.request("cleanup")
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=30)
        except (OSError, RuntimeError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            self.log.close()


# --------------------------------------------------------------------------- 5. stop latency


def stop_latency(worker, reps):
    """assist.stop against the bare vendor commands, each on a fresh fake agent, interleaved."""
    module, vendor = [], []
    for _ in range(reps):
        worker.request("fresh")
        reply = worker.request("call", function="stop")
        if worker.request("state") != {"client": [], "daemon": [], "daemon_dir": False}:
            raise RuntimeError("assist.stop left the fake agent running")
        module.append(reply["seconds"])
        worker.request("fresh")
        vendor.append(worker.request("vendor_stop")["seconds"])
        if worker.request("state") != {"client": [], "daemon": [], "daemon_dir": False}:
            raise RuntimeError("the vendor's commands left the fake agent running")
    worker.request("cleanup")
    return module, vendor


def stop_row(worker, reps):
    log("stop latency: assist.stop against the vendor's commands")
    module, vendor = stop_latency(worker, reps)
    ratio = median(module) / median(vendor)
    return Row(
        key="stop_latency",
        measure="2 stop latency, watchdog present",
        subject=median_said("assist.stop", module),
        baseline=median_said("vendor cmds", vendor),
        figure=f"{ratio:.2f}x",
        goal=f"<= {STOP_GOAL}x",
        met=ratio <= STOP_GOAL,
        data={"module_seconds": module, "vendor_seconds": vendor, "ratio": ratio},
    )


def run(settings):
    work = settings.work / "inproc"
    work.mkdir()
    worker = Worker(work, settings.work / "inproc-worker.log")
    try:
        return [stop_row(worker, settings.reps)]
    finally:
        worker.close()
