"""2. Subprocesses per call and 5. stop latency: the module in-process through Salt's
loader (bench/inproc_worker.py), against a fake agent with real processes."""

import json
import select
import subprocess
import sys
import tempfile

import proctrace
import systemd_record
from common import BENCH, Row, log, median, seconds

# scenario -> (short key, goal: at most this many processes started by the module)
SCENARIOS = {
    "status": ("status", 2),
    "stop (watchdog present)": ("stop", 6),
    "stop (already stopped)": ("stop_again", 2),
    "start": ("start", None),
}
STOP_GOAL = 1.5


class Worker:
    """The worker process and its request/reply protocol (JSON lines)."""

    def __init__(self, work, log_path):
        self.log = open(log_path, "ab")  # noqa: SIM115  (closed in close())
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH / "inproc_worker.py"), str(work)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
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
            raise RuntimeError(f"the in-process worker did not answer within {timeout} s "
                               f"(its log: {self.log.name})")
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


# --------------------------------------------------------------------------- 2. processes


def traced_call(worker, work, function, kwargs=None):
    """Call assist.<function> in the worker with strace attached; the counts."""
    with tempfile.NamedTemporaryFile(dir=work, suffix=".strace", delete=False) as out:
        path = out.name
    with proctrace.Tracer(worker.pid, path):
        reply = worker.request("call", function=function, kwargs=kwargs or {})
    counts = proctrace.parse(path, worker.pid)
    counts["cmd.run_all"] = len(reply["commands"])
    counts["commands"] = reply["commands"]
    return counts


def count_sysvinit(worker, work):
    """status, full stop, stop again, start, on one fresh fake agent, in that order."""
    worker.request("fresh")
    counts = {"status": traced_call(worker, work, "status")}
    counts["stop (watchdog present)"] = traced_call(worker, work, "stop")
    counts["stop (already stopped)"] = traced_call(worker, work, "stop")
    counts["start"] = traced_call(worker, work, "start")
    worker.request("cleanup")
    return counts


def count_row(init, scenario, counts):
    """The processes the module itself starts: its cmd.run_all calls, cross-checked with
    strace's direct children of the calling process (the larger is reported)."""
    key, goal = SCENARIOS[scenario]
    started = max(counts["cmd.run_all"], counts.get("direct", 0))
    if "direct" in counts:
        subject = f"cmd.run_all {counts['cmd.run_all']}, strace {counts['direct']}"
        baseline = f"whole tree: {counts['processes']} procs, {counts['programs']} execs"
    else:
        subject = f"{counts['cmd.run_all']} commands recorded"
        baseline = "not run: no systemd here"
    return Row(
        key=f"processes_{init.split()[0]}_{key}",
        measure=f"2 processes, {scenario}, {init}",
        subject=subject,
        baseline=baseline,
        figure=f"{started} processes",
        goal=f"<= {goal}" if goal is not None else "(none given)",
        met=None if goal is None else started <= goal,
        data=counts,
    )


def process_rows(worker, work):
    log("processes per call (sysvinit fake agent, strace -f)")
    rows = [count_row("sysvinit", scenario, counts)
            for scenario, counts in count_sysvinit(worker, work).items()]
    log("processes per call (systemd, commands recorded, not run)")
    for scenario, counts in systemd_record.count(work).items():
        rows.append(count_row("systemd (commands recorded, not run)", scenario, counts))
    return rows


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
        measure="5 stop latency, watchdog present",
        subject=f"assist.stop {seconds(median(module))}",
        baseline=f"vendor cmds {seconds(median(vendor))}",
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
        rows = process_rows(worker, work)
        rows.append(stop_row(worker, settings.reps))
        return rows
    finally:
        worker.close()
