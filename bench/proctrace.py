"""Count the processes a call starts, for real: strace -f attached to the calling process
for exactly the duration of the call.

From the trace (syscalls execve, execveat, clone, clone3, fork, vfork) we count:

* direct: processes the traced process itself created (its threads included) that ran a
  program, i.e. the commands the module started;
* processes: every process created in the whole tree (shell subshells included);
* programs: every successful execve in the tree (what the vendor's scripts run too).
"""

import os
import re
import signal
import subprocess
import time

SYSCALLS = "execve,execveat,clone,clone3,fork,vfork"
LINE = re.compile(r"^(\d+)\s+(.*)$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
RESULT = re.compile(r"=\s+(-?\d+)(?:\s+[A-Z]+\s+\(.*\))?$")
CREATE = ("clone", "clone3", "fork", "vfork")


class Tracer:
    """strace -f on one running process, for a `with` block."""

    def __init__(self, pid, output):
        self.pid = pid
        self.output = output
        self.process = None

    def __enter__(self):
        argv = ["strace", "-f", "-qq", "-e", f"trace={SYSCALLS}", "-e", "signal=none",
                "-o", str(self.output), "-p", str(self.pid)]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_traced(self.pid, self.process.pid, timeout=10):
            self._stop()
            raise RuntimeError(f"strace did not attach to {self.pid}")
        return self

    def __exit__(self, *exc):
        self._stop()

    def _stop(self):
        """SIGINT makes strace detach and write out what it has; SIGKILL if it hangs."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def tracer_of(pid, tid):
    try:
        with open(f"/proc/{pid}/task/{tid}/status") as handle:
            for line in handle:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def wait_traced(pid, strace_pid, timeout):
    """True once every thread of pid is traced by strace_pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tids = os.listdir(f"/proc/{pid}/task")
        if tids and all(tracer_of(pid, tid) == strace_pid for tid in tids):
            return True
        time.sleep(0.01)
    return False


def complete_calls(lines):
    """(pid, call text) with strace's <unfinished ...> / <... resumed> halves joined."""
    pending = {}
    for line in lines:
        match = LINE.match(line.rstrip("\n"))
        if not match:
            continue
        pid, text = int(match.group(1)), match.group(2)
        if text.endswith("<unfinished ...>"):
            pending[pid] = text[: -len("<unfinished ...>")]
            continue
        resumed = RESUMED.match(text)
        if resumed:
            text = pending.pop(pid, resumed.group(1) + "(") + resumed.group(2)
        yield pid, text


def parse(path, traced_pid):
    """Counts (see the module's docstring) and the programs run, from an strace -o file."""
    threads = {traced_pid}  # the traced process's threads: creators of "direct" children
    parent = {}  # process created -> creating pid
    programs = []  # (pid, program) of each successful execve
    with open(path, errors="replace") as handle:
        for pid, text in complete_calls(handle):
            name = text.split("(", 1)[0]
            result = RESULT.search(text)
            value = int(result.group(1)) if result else -1
            if name in CREATE and value > 0:
                if "CLONE_THREAD" in text:
                    if pid in threads:
                        threads.add(value)
                else:
                    parent[value] = pid
            elif name in ("execve", "execveat") and value == 0:
                program = re.match(r'\w+\("([^"]*)"', text)
                programs.append((pid, program.group(1) if program else "?"))
    executed = {pid for pid, _ in programs}
    direct = sorted(pid for pid, creator in parent.items() if creator in threads and pid in executed)
    return {
        "direct": len(direct),
        "processes": len(parent),
        "programs": len(programs),
        "program_list": [program for _, program in programs],
    }
