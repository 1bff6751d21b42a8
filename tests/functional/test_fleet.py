"""assist.audit and the assist beacon in-process, against the fake agent's real
processes, under the default policy (no pillar: the agent runs, its watchdog stays)."""

import os
import pathlib
import shutil
import subprocess
import sys
import types

import pytest
import salt.payload

from tests.conftest import REPO
from tests.functional.conftest import frozen_minion
from tests.support import fakeagent

WATCHDOG_GONE = ["client is stopped, policy says running", "watchdog is absent, policy says present"]


def test_a_running_agent_follows_the_default_policy(assist, agent):
    found = assist.audit()
    assert found == {
        "result": True,
        "comment": "The agent follows its policy",
        "policy": {"client": "running", "daemon": "present", "enable": None},
        "agent": {"client": "running", "daemon": "present", "enable": True, "version": "2.5.3.650", "init_system": "sysvinit"},
        "drift": [],
    }


def test_a_stopped_agent_drifts_and_the_call_fails(assist, agent, loaders):
    assist.stop(disable=True)
    found = assist.audit()
    assert found["result"] is False
    assert found["drift"] == WATCHDOG_GONE  # start at boot is off, but enable: null is not judged
    assert found["agent"]["enable"] is False
    assert loaders.context["retcode"] == 1


def test_the_audit_changes_nothing(assist, agent):
    before = agent.client_pids(), agent.daemon_pids(), agent.protected_snapshot()
    assist.audit()
    assert (agent.client_pids(), agent.daemon_pids(), agent.protected_snapshot()) == before


def fire(beacon, grains=None):
    """One run of the configured assist beacon: the (tag, data) it fires."""
    events = beacon.process({"assist": [{"reminder": 3600}]}, grains or {})
    return [(event["tag"].rsplit("/", 1)[1], event["data"]) for event in events]


def test_the_beacon_fires_once_per_change_and_remembers_across_a_reload(beacons, assist, agent):
    beacon = beacons()
    assert fire(beacon) == []  # compliant from the start: nothing to say
    assist.stop()
    ((what, data),) = fire(beacon)
    assert what == "drift" and data["drift"] == WATCHDOG_GONE and data["reminder"] is False
    assert fire(beacon) == []
    assert fire(beacons()) == []  # the beacons reloaded: the same drift is not said again
    assist.start()
    ((what, data),) = fire(beacon)
    assert (what, data["drift"]) == ("drift", ["watchdog is absent, policy says present"])
    fakeagent.install(agent.dest, init="sysvinit").start()  # the package reinstalled: the watchdog is back
    assert [what for what, _ in fire(beacon)] == ["compliant"]
    assert fire(beacon) == []


def test_the_paused_beacon_is_quiet_and_reports_at_once_when_resumed(beacons, assist, agent):
    beacon = beacons()
    assist.stop()
    assert fire(beacon, {"assist_paused": True}) == []
    assert [what for what, _ in fire(beacon)] == ["drift"]
    assert fire(beacon, {"assist_paused": True}) == []
    assert [what for what, _ in fire(beacon)] == ["drift"]  # a pause forgets: said again on resume


def test_a_failing_audit_is_one_error_event(beacons, agent, lookup):
    lookup["daemon_dir"] = "/"
    beacon = beacons()
    ((what, data),) = fire(beacon)
    assert what == "error"
    assert data["error"].startswith("assist:lookup:daemon_dir: '/' is refused")
    assert fire(beacon) == []


@pytest.fixture
def job_running(loaders):
    """A job as the minion records it while it runs: a proc file naming a live process
    whose command line says salt (Salt checks both). ``job_running(fun)`` starts one;
    ``.stop()`` of what it returns ends it; all end after the test."""
    proc = os.path.join(loaders.opts["cachedir"], "proc")
    os.makedirs(proc, exist_ok=True)
    started = []

    def start(fun):
        job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "salt-minion-job"])
        # Salt drops a proc file whose process does not say salt: wait until the new
        # process says it (for a moment after the fork it reads as this one).
        assert fakeagent.wait_until(lambda: b"salt" in pathlib.Path(f"/proc/{job.pid}/cmdline").read_bytes())
        jid = f"2026010100000000{len(started):04d}"
        path = os.path.join(proc, jid)
        with open(path, "wb") as handle:
            handle.write(salt.payload.dumps({"fun": fun, "pid": job.pid, "jid": jid}))
        started.append((job, path))
        return types.SimpleNamespace(stop=lambda: os.unlink(path))

    yield start
    for job, path in started:
        job.kill()
        job.wait()
        if os.path.exists(path):
            os.unlink(path)


@pytest.mark.parametrize("config", [[], [{"disable_during_state_run": True}]], ids=["always", "salt's key too"])
def test_the_beacon_is_quiet_while_a_state_job_runs(beacons, assist, agent, job_running, config):
    beacon = beacons()
    assist.stop()
    job = job_running("state.apply")
    assert beacon.process({"assist": [{"reminder": 3600}, *config]}, {}) == []
    job.stop()
    assert [what for what, _ in fire(beacon)] == ["drift"]


def test_the_beacon_audits_while_a_job_other_than_a_state_runs(beacons, assist, agent, job_running):
    beacon = beacons()
    assist.stop()
    job_running("test.sleep")
    assert [what for what, _ in fire(beacon)] == ["drift"]


@pytest.fixture(scope="module")
def slower_group(minion_opts, tmp_path_factory):
    """Loaders of a frozen minion whose group's pillar file changes the mine's period, as
    docs/fleet.md tells an operator: the shipped pillar, with 15 minutes in frozen.sls."""
    home = tmp_path_factory.mktemp("slower")
    shutil.copytree(REPO / "pillar", home / "pillar")
    with open(home / "pillar" / "assist" / "frozen.sls", "a", encoding="utf-8") as handle:
        handle.write("schedule:\n  assist_mine:\n    minutes: 15\n")
    return frozen_minion(minion_opts, home, "slower", home / "pillar")


def test_a_group_changes_the_period_of_its_mine_answers_in_its_own_pillar_file(slower_group, frozen, agent):
    answer = slower_group.modules.assist.mine_audit()
    assert answer["period"] == 900 and answer["audit"]["policy"]["client"] == "dead"
    # Salt merges the group's file over mine.sls: the rest of the job stays as shipped.
    job = slower_group.pillar["schedule"]["assist_mine"]
    assert (job["function"], job["args"], job["splay"]) == ("mine.send", ["assist.mine_audit"], 60)
    assert frozen.modules.assist.mine_audit()["period"] == 300
