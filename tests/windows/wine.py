"""A Windows machine under Wine: one Wine prefix, its wineserver kept running, and every
Windows program in a network namespace that holds only loopback.

    machine = Machine(prefix)              # a prefix of the test's own (machine.py copies one)
    machine.boot()                         # wineserver -p, then wineboot: services.exe and the auto-start services
    machine.run(["sc", "query", "AliyunService"])
    machine.reboot()                       # wineserver -k, then boot again
    machine.close()                        # everything in the namespace ends

The namespace: a holder process, started by `unshare --net --pid --fork --kill-child`,
is PID 1 of a new PID namespace inside a new network namespace. Every command enters
both with `nsenter` and starts only after tests/system/offline.py has seen loopback and
nothing else there, so the wineserver, services.exe, the services and every Windows
Python live in that one namespace. When the holder ends (close(), or the test process
dies: unshare gets SIGKILL with its parent and takes the holder with it) the kernel ends
every process of the namespace; no Wine process outlives the tier.

The wineserver is started with `-p` (persist): Debian's wrapper passes `-p0`, and a
server that exits after the last client takes services.exe and every service with it.
A Windows CPython dies when a standard handle is a regular file (Wine 8.0,
init_sys_streams): programs get pipes or /dev/null, never a file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.system import host, offline

# PID 1 of the namespace: reaps what Wine's daemons leave behind, until it is killed.
REAPER = """
import os, time
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        time.sleep(0.2)
"""

# Wine's environment: nothing of the host's (a PYTHON* or PIP_* variable would reach
# the Windows Python). No Mono or Gecko install prompts, no debug channels.
WINE_ENV = {
    "PATH": host.SANE_PATH,
    "LANG": "C.UTF-8",
    "WINEARCH": "win64",
    "WINEDEBUG": "-all",
    "WINEDLLOVERRIDES": "mscoree,mshtml=",
}

PYTHON = r"C:\Python311\python.exe"


class WindowsCommandError(RuntimeError):
    pass


# What Wine's launcher says when it could not start a program (ShellExecuteEx failed).
WINE_COULD_NOT_START = "Application could not be started, or no application associated with the specified file."


class Machine:
    def __init__(self, prefix: Path):
        self.prefix = Path(prefix)
        self.env = dict(WINE_ENV, HOME=str(self.prefix.parent), WINEPREFIX=str(self.prefix))
        self.holder = subprocess.Popen(
            ["unshare", "--net", "--pid", "--fork", "--kill-child", "--", sys.executable, "-c", REAPER],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=host.die_with_parent,
        )
        self.namespace_pid = self._namespace_pid()

    def _namespace_pid(self) -> int:
        """The holder's PID 1 (unshare's child), as this host sees it."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = Path(f"/proc/{self.holder.pid}/task/{self.holder.pid}/children")
            found = children.read_text().split() if children.exists() else []
            if found:
                return int(found[0])
            if self.holder.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("the namespace for Wine did not start (unshare --net --pid needs root)")

    def command(self, argv) -> list:
        """argv as a command that runs inside the namespace, after the loopback check."""
        check = [sys.executable, offline.__file__, "--", *argv]
        return ["nsenter", f"--target={self.namespace_pid}", "--net", "--pid", "--", *check]

    def run(
        self, argv, timeout: float = 120, check: bool = True, output: bool = True, debug: str | None = None
    ) -> subprocess.CompletedProcess:
        """A Windows program (`wine argv`) to its end; its output with Windows' line ends
        made Unix'. With output=False it goes to /dev/null: wineboot starts services,
        which would otherwise hold our pipes open as long as they run. ``debug``: Wine's
        debug channels for this run (WINEDEBUG), on its stderr."""
        pipe = subprocess.PIPE if output else subprocess.DEVNULL
        env = self.env if debug is None else dict(self.env, WINEDEBUG=debug)
        for attempt in range(3):
            proc = subprocess.run(
                self.command(["wine", *argv]), env=env, stdin=subprocess.DEVNULL, stdout=pipe, stderr=pipe, timeout=timeout
            )
            out, err = ((stream or b"").decode("utf-8", "replace").replace("\r\n", "\n") for stream in (proc.stdout, proc.stderr))
            # Under load Wine's launcher now and then fails to start a program at all (seen
            # with `reg query` in CI): the program never ran, so it is started again.
            if WINE_COULD_NOT_START not in out + err or attempt == 2:
                break
            time.sleep(1)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check and done.returncode != 0:
            raise WindowsCommandError("`wine %s` exited %d: %s" % (" ".join(argv), done.returncode, (err + out)[-3000:]))
        return done

    def python(self, *args, timeout: float = 300) -> str:
        return self.run([PYTHON, *args], timeout=timeout).stdout

    def server(self, argv, timeout: float = 120) -> None:
        """wineserver with these options, in the namespace; it forks and returns."""
        subprocess.run(
            self.command(["wineserver", *argv]),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )

    def boot(self) -> None:
        self.server(["-p"])
        self.run(["wineboot"], output=False)  # services.exe and the auto-start services

    def shutdown(self) -> None:
        """Every Windows process of the prefix ends (services too), and the server."""
        self.server(["-k"])
        self.server(["-w"])

    def reboot(self) -> None:
        self.shutdown()
        self.boot()

    def close(self) -> None:
        self.holder.kill()  # --kill-child: the namespace's PID 1 goes, and with it every process there
        self.holder.wait(timeout=30)

    def windows_path(self, path: Path) -> str:
        """A host path as Windows programs see it (Wine's drive Z: is the host's /)."""
        return "Z:" + str(Path(path).resolve()).replace("/", "\\")

    def drive_c(self) -> Path:
        return self.prefix / "drive_c"


class SaltCalls:
    """One long-lived Windows Python that runs salt-call again and again
    (guest/salt_call_server.py): salt-call's own command line each time, without paying
    Python's start and Salt's imports under Wine (4-6 s) per call."""

    MARK = "@@salt-call@@ "

    def __init__(self, machine: Machine, server_script: str):
        self.proc = subprocess.Popen(
            machine.command(["wine", PYTHON, server_script]),
            env=machine.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._answer()

    def _answer(self) -> dict:
        noise = []
        for line in self.proc.stdout:
            if line.startswith(self.MARK):
                return json.loads(line[len(self.MARK) :])
            noise.append(line)
        raise RuntimeError("the salt-call server under Wine ended:\n" + "".join(noise)[-3000:])

    def __call__(self, *args) -> dict:
        """salt-call ARGS: {"code": exit code, "stdout": ..., "stderr": ...}."""
        self.proc.stdin.write(json.dumps(list(args)) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.stdout.close()
