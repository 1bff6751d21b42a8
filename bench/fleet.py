"""A salt-master on loopback, started from a plain script with salt-factories'
FactoriesManager (outside pytest), and its minions, each with its own fake agent: the
fan-out's many light raw minions (bench/swarm.py) and the memory section's one minion
started by salt-factories.

The master's file roots: a bench folder (empty.sls), the repository's salt/ (the assist
state tree) and a folder whose _modules, _states, _utils, _grains (and _runners when the
project has them) are symbolic links to the repository's; never the repository root.
Its pillar: the repository's, but for one minion id (WITHOUT_MINE) whose pillar has no
mine job (bench/freshness.py times the verbs with and without the mine's refresh).
"""

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import yaml
from common import BENCH, BIN, REPO, log, timed
from saltfactories.manager import FactoriesManager
from saltfactories.plugins.event_listener import EventListener
from saltfactories.plugins.log_server import LogServer
from swarm import Swarm

from tests.conftest import EXTENSION_FOLDERS
from tests.support import fakeagent

LOOPBACK = "127.0.0.1"
QUIET = "warning"  # daemons log warnings and worse: what a production minion logs
WATCHDOG_INTERVAL = 5.0  # s; the fake watchdog's poll (0.1 s in tests) would load 2 cores
# Salt's own default; salt-factories sets 0.05 s, which makes 20 idle minions busy.
MINION_DEFAULTS = {"loop_interval": 1}
# The one minion id whose pillar leaves out pillar/assist/mine.sls (no job assist_mine).
WITHOUT_MINE = "bench-nomine"


class SafeEventListener(EventListener):
    """salt-factories' listener, whose expiry thread iterates the event store while the
    server thread appends to it ("deque mutated during iteration" with 20 minions):
    here it works on a snapshot."""

    def _cleanup(self):
        cleanup_at = time.monotonic() + 30
        while self.running_event.is_set():
            time.sleep(1)
            if time.monotonic() < cleanup_at:
                continue
            cleanup_at = time.monotonic() + 30
            for event in [event for event in list(self.store) if event.expired]:
                with contextlib.suppress(ValueError):
                    self.store.remove(event)


def state_roots(work):
    """The bench file root (empty.sls) and the extension folder of links."""
    bench_root = work / "bench-states"
    bench_root.mkdir()
    (bench_root / "empty.sls").write_text("# An empty state: the baseline of a state run.\n")
    ext_root = work / "ext"
    ext_root.mkdir()
    for kind in EXTENSION_FOLDERS:
        (ext_root / kind).symlink_to(REPO / kind)
    return [str(bench_root), str(REPO / "salt"), str(ext_root)]


def pillar_roots(work):
    """A pillar root whose top.sls is the repository's with its every-minion group
    ('*', which holds assist.mine) matching every minion but WITHOUT_MINE; first, so
    that its top.sls is the one read. The groups' files come from the repository's
    pillar folder, the second root."""
    root = work / "bench-pillar"
    root.mkdir()
    top = yaml.safe_load((REPO / "pillar" / "top.sls").read_text())
    groups = top["base"]
    every = groups.pop("*")
    top["base"] = {f"* and not L@{WITHOUT_MINE}": [{"match": "compound"}, *every], **groups}
    (root / "top.sls").write_text(yaml.safe_dump(top, sort_keys=False))
    return [str(root), str(REPO / "pillar")]


def quiet_logging(role):
    return {"log_level_logfile": QUIET, f"pytest-{role}": {"log": {"level": QUIET}}}


class Fleet:
    """The daemons of one benchmark run; stop() ends every one of them."""

    def __init__(self, work, master_config=None):
        self.work = work
        self.master_config = master_config or {}  # more master options (its cache backend)
        self.minions = {}  # name -> started factory
        self.agents = {}  # name -> FakeAgent
        self.log_server = LogServer(log_host=LOOPBACK, log_level=QUIET)
        self.listener = SafeEventListener()
        self.listener.host = LOOPBACK  # salt-factories listens on 0.0.0.0 by default
        self.listener.address = f"tcp://{LOOPBACK}:{self.listener.port}"
        self.master = None
        self.manager = None
        self.swarm = None  # the fan-out's raw minions
        self.started = []  # the support services running, to stop at the end

    def start(self):
        self.work.mkdir(parents=True, exist_ok=True)
        for service in (self.log_server, self.listener):
            service.start()
            self.started.append(service)
        self.manager = FactoriesManager(
            root_dir=self.work / "sf",
            log_server_host=LOOPBACK,
            log_server_port=self.log_server.log_port,
            log_server_level=QUIET,
            event_listener=self.listener,
            start_timeout=120,
        )
        overrides = {
            "interface": LOOPBACK,
            "auto_accept": True,  # temporary keys on loopback; no wait for salt-key
            "file_roots": {"base": state_roots(self.work)},
            "pillar_roots": {"base": pillar_roots(self.work)},
            **quiet_logging("master"),
            **self.master_config,
        }
        factory = self.manager.salt_master_daemon("bench-master", overrides=overrides)
        log("starting the salt-master")
        factory.start()
        self.master = factory
        self.swarm = Swarm(self.work / "swarm", factory)
        if (REPO / "_runners").is_dir():
            self.run(["saltutil.sync_runners"], check=lambda value: isinstance(value, list))

    def sandbox(self, name):
        root = self.work / "sandboxes" / name
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        return root

    def minion_factory(self, name, extra=None):
        """A minion's factory (configured, not started) with a fresh, running fake agent."""
        root = self.sandbox(name)
        agent = fakeagent.install(root, init="sysvinit", restart_interval=WATCHDOG_INTERVAL)
        agent.start()
        self.agents[name] = agent
        overrides = {
            "assist": {"lookup": {"root": str(root), "run_image_programs": True}},
            **MINION_DEFAULTS,
            **quiet_logging("minion"),
            **(extra or {}),
        }
        return self.master.salt_minion_daemon(name, overrides=overrides)

    def start_minion(self, name, factory):
        factory.start()
        self.minions[name] = factory

    def stop_minion(self, name):
        factory = self.minions.pop(name, None)
        if factory is not None:
            factory.terminate()

    def stop_minions(self):
        """All at once: one by one, 20 minions take minutes to shut down."""
        if self.swarm is not None:
            self.swarm.stop()
        names = list(self.minions)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            for name, failure in zip(names, pool.map(self._stop_reporting, names), strict=True):
                if failure:
                    log(f"stopping {name} failed: {failure}")

    def _stop_reporting(self, name):
        try:
            self.stop_minion(name)
        except Exception as exc:  # keep stopping the others
            return exc
        return None

    def add_minions(self, names):
        """Start light raw minions (bench/swarm.py), wait until every one answers, then
        sync the project's modules to them."""
        started = time.monotonic()
        self.swarm.start(names)
        self.wait_answering(names, deadline=started + 120 + 3 * len(names))
        log(f"{len(names)} minion(s) answering {time.monotonic() - started:.0f} s after the first started")
        self.sync(names)

    def sync(self, names, chunk=25, tries=3):
        """saltutil.sync_all, 25 minions at a time. Fifty minions just started on 2 cores
        can be too busy to answer the salt CLI's job check in time, and the CLI then
        leaves them out: they are asked again, up to three times."""
        for start in range(0, len(names), chunk):
            waiting = names[start : start + chunk]
            for attempt in range(1, tries + 1):
                _, returns, done = self.salt(",".join(waiting), "saltutil.sync_all", list_target=True, cli_timeout=120)
                waiting = [name for name in waiting if not isinstance(returns.get(name), dict)]
                if not waiting:
                    break
                log(f"saltutil.sync_all: no answer yet from {len(waiting)} minion(s), try {attempt} of {tries}")
            if waiting:
                raise RuntimeError(
                    f"saltutil.sync_all: no answer from {waiting} after {tries} tries "
                    f"(exit {done.returncode}: {done.stderr.strip()[:300]})"
                )

    def wait_answering(self, names, deadline):
        waiting = list(names)
        while waiting:
            _, returns, _ = self.salt(",".join(waiting), "test.ping", list_target=True, cli_timeout=10)
            waiting = [name for name in waiting if returns.get(name) is not True]
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(
                    f"{len(waiting)} minion(s) never answered test.ping: {waiting[:5]} ..."
                    f" (their logs: {self.swarm.work}/<id>/root/var/log/salt/minion)"
                )
            if waiting:
                time.sleep(2)

    def salt(self, target, function, *args, list_target=False, cli_timeout=60, timeout=300):
        """Run the salt CLI; (wall seconds, {minion: return}, the finished process)."""
        argv = [str(BIN / "salt"), f"--config-dir={self.master.config_dir}", "--out=json", "--static", f"--timeout={cli_timeout}"]
        if list_target:
            argv.append("-L")
        argv += [target, function, *args]
        took, done = timed(subprocess.run, argv, capture_output=True, text=True, timeout=timeout, check=False)
        try:
            returns = json.loads(done.stdout or "{}")
        except json.JSONDecodeError:
            returns = {}
        return took, returns, done

    def salt_run(self, argv, timeout=300):
        """Run salt-run on the master (the runner runs in that process); the finished
        process, with salt-run's own peak RSS in MB as `.peak_mb` (None if it was
        killed), read by bench/peak.py, which starts it; both are killed after
        `timeout` seconds."""
        argv = [str(BIN / "salt-run"), f"--config-dir={self.master.config_dir}", "--out=json", *argv]
        peak_file = self.work / "salt-run.peak"
        peak_file.unlink(missing_ok=True)
        launcher = [sys.executable, "-S", str(BENCH / "peak.py"), str(peak_file), *argv]
        process = subprocess.Popen(
            launcher, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        killer = threading.Timer(timeout, kill_group, (process.pid,))
        killer.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
                out, err = pool.submit(process.stdout.read), pool.submit(process.stderr.read)
                stdout, stderr = out.result().decode(), err.result().decode()
            process.wait()
        finally:
            killer.cancel()
        done = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
        done.peak_mb = int(peak_file.read_text()) / 1024 if peak_file.exists() else None  # KB on Linux
        return done

    def run(self, argv, check):
        """salt-run argv, checked: the parsed return."""
        done = self.salt_run(argv)
        value = runner_value(done)
        if not check(value):
            raise runner_error(done)
        return value

    def call(self, names, function, *args, check=None):
        """salt -L names function: the wall time; raises unless every minion answered well."""
        took, returns, done = self.salt(",".join(names), function, *args, list_target=True)
        expect_answers(names, function, returns, done, check)
        return took

    def call_all(self, names, function, check):
        """salt '*' function, checked to come back from exactly these minions."""
        took, returns, done = self.salt("*", function)
        expect_answers(names, function, returns, done, check)
        return took

    def stop(self):
        """Every minion, the master, the fake agents, the listener and the log server."""
        self.stop_minions()
        if self.master is not None:
            self.master.terminate()
            self.master = None
        for agent in self.agents.values():
            agent.cleanup()
        self.agents.clear()
        while self.started:
            self.started.pop().stop()


def runner_value(done):
    """What a finished salt-run printed (--out=json), parsed; None when it failed or
    printed no JSON."""
    if done.returncode != 0:
        return None
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return None


def runner_error(done):
    """The error for a salt-run whose answer is not as expected, with what it said."""
    return RuntimeError(
        f"salt-run {' '.join(done.args[3:])}: exit {done.returncode}, {done.stdout.strip()[:300]} {done.stderr.strip()[:300]}"
    )


def kill_group(pid):
    """SIGKILL to a process group (started in a session of its own), if it still lives."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def expect_answers(names, function, returns, done, check):
    missing = sorted(set(names) - set(returns))
    extra = sorted(set(returns) - set(names))
    bad = sorted(name for name in set(names) & set(returns) if check and not check(returns[name]))
    if missing or extra or bad or done.returncode != 0:
        sample = {name: returns.get(name) for name in (bad or missing)[:1]}
        raise RuntimeError(
            f"salt {function}: exit {done.returncode}, missing {missing}, unexpected {extra}, "
            f"bad answers from {bad} {sample} {done.stderr.strip()[:300]}"
        )
