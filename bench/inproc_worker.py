"""A process that hosts the assist module in Salt's loader (salt-factories' Loaders, as
the functional tests do) next to a fake agent with real processes in a sandbox root.

Driven by bench/inproc.py: one JSON request per line on stdin, one JSON reply per line
on the original stdout (Salt's own output is sent to stderr). Kept in its own process so
that the loader's imports and path changes stay out of the benchmark's process. Every `cmd.run_all` the module
makes goes through Salt's real cmdmod.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402, F401  (puts the repository on the import path: tests.*)
import salt.config  # noqa: E402
import yaml  # noqa: E402
from saltfactories.utils.functional import Loaders  # noqa: E402

from tests.conftest import extension_dirs  # noqa: E402
from tests.support import fakeagent  # noqa: E402


def minion_opts(work, sandbox):
    """A masterless minion's options, the project's extension folders on its paths."""
    config = {
        "id": "bench-inproc",
        "root_dir": str(work / "minion"),
        "file_client": "local",
        "log_level": "warning",
        "assist": {"lookup": {"root": str(sandbox), "run_image_programs": True, "timeout": 20}},
    }
    config.update(extension_dirs())
    path = work / "minion.conf"
    path.write_text(yaml.safe_dump(config))
    return salt.config.minion_config(str(path))


class Host:
    """The loader and the fake agent of this worker."""

    def __init__(self, work):
        self.work = work
        self.sandbox = work / "sandbox"
        self.sandbox.mkdir(parents=True, exist_ok=True)
        self.loaders = Loaders(minion_opts(work, self.sandbox))
        self.agent = None

    # -- the fake agent --------------------------------------------------

    def fresh(self):
        """A newly installed fake agent, client and watchdog running."""
        self.cleanup()
        shutil.rmtree(self.sandbox)
        self.sandbox.mkdir()
        self.agent = fakeagent.install(self.sandbox, init="sysvinit")
        self.agent.start()
        return {"client": self.agent.client_pids(), "daemon": self.agent.daemon_pids()}

    def cleanup(self):
        if self.agent is not None:
            self.agent.cleanup()
            self.agent = None
        return {}

    def state(self):
        return {
            "client": self.agent.client_pids(),
            "daemon": self.agent.daemon_pids(),
            "daemon_dir": self.agent.daemon_dir.exists(),
        }

    # -- the calls measured ---------------------------------------------

    def call(self, function, kwargs=None):
        """One call of assist.<function>, as a fresh job would make it (empty __context__)."""
        self.loaders.context.clear()
        start = time.perf_counter()
        result = self.loaders.modules[f"assist.{function}"](**(kwargs or {}))
        took = time.perf_counter() - start
        return {"seconds": took, "result": result}

    def vendor_stop(self):
        """The vendor's commands that assist.stop wraps, run bare, in the vendor's order."""
        agent = self.agent
        if not str(agent.daemon_dir).startswith(str(self.work) + "/"):
            raise RuntimeError(f"refusing to remove {agent.daemon_dir}: not in the bench sandbox")
        steps = [
            [str(agent.daemon_path), "--stop"],
            [str(agent.daemon_path), "--delete"],
            ["rm", "-rf", str(agent.daemon_dir)],
            [str(agent.sysv_script), "stop"],
        ]
        start = time.perf_counter()
        for argv in steps:
            subprocess.run(
                argv, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30
            )
        took = time.perf_counter() - start
        return {"seconds": took, "commands": steps}


def serve(host, requests, replies):
    for line in requests:
        request = json.loads(line)
        op = request.pop("op")
        if op == "quit":
            break
        try:
            reply = {"ok": getattr(host, op)(**request)}
        except Exception as exc:  # reported to the parent, which fails the run
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply, default=str) + "\n")
        replies.flush()


def main():
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything printed by Salt goes to stderr, not into the replies
    host = Host(pathlib.Path(sys.argv[1]))
    replies.write(json.dumps({"ok": {"pid": os.getpid()}}) + "\n")
    replies.flush()
    try:
        serve(host, sys.stdin, replies)
    finally:
        host.cleanup()


if __name__ == "__main__":
    main()
