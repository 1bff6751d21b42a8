"""Many salt-minions on one machine, as light as Salt allows: raw `salt-minion` daemons
(no salt-factories engine or log forwarding in each), each with its own fake agent in its
own sandbox root.

What makes a minion light here (about 80 MB resident each once the project's modules
are synced; 100 fit on a 2-core, 24 GB machine):
  multiprocessing: False     a job runs in a thread of the one minion process, not in a
                             forked process per job
  acceptance_wait_time: 1    retry the key exchange after 1 s (default 10 s)
  random_reauth_delay: 0     no random wait before re-authenticating
  loop_interval: 1           Salt's default (salt-factories sets 0.05 s)
  enable_fqdns_grains: False no reverse DNS lookup of every address at start
  log level warning          what a production minion logs
and the minions start 0.3 s apart, so that 100 Python start-ups do not all compete for
the 2 cores at once. The fake watchdog polls every 10 s (0.1 s in the tests).
"""

import os
import shutil
import signal
import subprocess
import time

import yaml
from common import BIN, env_without_pythonpath, log

from tests.support import fakeagent

LIGHT = {
    "multiprocessing": False,
    "acceptance_wait_time": 1,
    "random_reauth_delay": 0,
    "loop_interval": 1,
    "enable_fqdns_grains": False,
    "log_level": "warning",
    "log_level_logfile": "warning",
}
START_GAP = 0.3  # seconds between two minion starts
WATCHDOG_INTERVAL = 10.0  # s: 100 watchdogs each run the init script's status this often
STOP_WAIT = 15  # s a minion has to exit after SIGTERM before SIGKILL


class Swarm:
    """Raw minions of one master; stop() ends every minion and fake agent it started."""

    def __init__(self, work, master):
        self.work = work
        self.master = master  # a started salt-factories master (its address and ports)
        self.processes = {}  # name -> Popen of the salt-minion
        self.agents = {}  # name -> FakeAgent

    def _config(self, name, sandbox):
        home = self.work / name
        conf_dir = home / "conf"
        conf_dir.mkdir(parents=True)
        config = {
            "id": name,
            "root_dir": str(home / "root"),  # Salt puts pki, cache, sockets, log below it
            "master": self.master.config["interface"],
            "master_port": self.master.config["ret_port"],
            "publish_port": self.master.config["publish_port"],
            "user": "root",
            "assist": {"lookup": {"root": str(sandbox), "run_image_programs": True}},
            **LIGHT,
        }
        (conf_dir / "minion").write_text(yaml.safe_dump(config))
        return conf_dir

    def _sandbox(self, name):
        root = self.work / name / "sandbox"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        agent = fakeagent.install(root, init="sysvinit", restart_interval=WATCHDOG_INTERVAL)
        agent.start()
        self.agents[name] = agent
        return root

    def start(self, names):
        """Start a fake agent and a minion for each name, START_GAP apart."""
        log(f"starting {len(names)} raw minion(s) {START_GAP} s apart: {names[0]} .. {names[-1]}")
        for name in names:
            conf_dir = self._config(name, self._sandbox(name))
            with open(self.work / name / "daemon.out", "wb") as out:
                self.processes[name] = subprocess.Popen(
                    [str(BIN / "salt-minion"), f"--config-dir={conf_dir}"],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env_without_pythonpath(),
                    start_new_session=True,
                )
            time.sleep(START_GAP)

    def pids(self):
        """Every process of every minion (a minion's own children included)."""
        return [process.pid for process in self.processes.values()]

    def stop(self):
        """SIGTERM to every minion's process group at once, SIGKILL to what is left after
        STOP_WAIT; then the fake agents."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} ignored SIGTERM for {STOP_WAIT} s: killed")
            _signal_group(process, signal.SIGKILL)  # threads or children left behind
            process.wait()
        self.processes.clear()
        for agent in self.agents.values():
            agent.cleanup()
        self.agents.clear()


def _signal_group(process, signum):
    """The minion was started in a session of its own: its group is its pid."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass
