"""A minion without the agent, and one with half an agent, on sysvinit: the module,
states, audit and beacon in-process.

Without the agent (no init script, no client program) is a fact: what needs no agent
succeeds with no changes and says why; what needs one fails naming what to install.
Half an agent is said as what it is, with its paths, and no verb acts on it. Nothing
on disk or in the process table changes unless the test says so.
"""

import os
import re

import pytest
from salt.exceptions import CommandExecutionError

from tests.functional.test_bad_input import tree
from tests.functional.test_fleet import fire
from tests.support import fakeagent
from tests.support.refusals import refusal

FROZEN = {"client": "dead", "daemon": "absent", "enable": False}
MISSING = (
    "the init script /etc/init.d/aliyun-service (assist:lookup:sysv_script) and the client under "
    "/usr/local/share/aliyun-assist are missing"
)
INSTALL = (
    "Install the Cloud Assistant agent (the package aliyun-assist on Debian and Ubuntu, aliyun_assist on RHEL, "
    "CentOS and Alibaba Cloud Linux, or Alibaba Cloud's installer), then run this again. Nothing was changed."
)


def files(root):
    """The sandbox's tree less var/, where a live watchdog's attempts leave pid files."""
    return {path: seen for path, seen in tree(root).items() if not path.startswith(f"{root}/var")}


@pytest.fixture
def bare(tmp_path, lookup):
    """This minion's root is a system without the agent: sysvinit's /sbin/init only."""
    root = fakeagent.bare(tmp_path / "bare")
    lookup["root"] = str(root)
    return root


@pytest.fixture
def lone_watchdog(bare):
    """The client uninstalled, its watchdog left running (as an uninstall that forgot it)."""
    agent = fakeagent.install(bare, init="sysvinit")
    agent.remove_client()
    agent.start_watchdog()
    yield agent
    agent.cleanup()


@pytest.fixture
def half(tmp_path, lookup):
    """An agent installed, not started, in a root of the test's own; the test takes part of it away."""
    agent = fakeagent.install(tmp_path / "half", init="sysvinit")
    lookup["root"] = str(agent.dest)
    yield agent
    agent.cleanup()


# --------------------------------------------------------------------------- without the agent


def test_status_says_not_installed_and_not_running(assist, bare):
    status = assist.status()
    assert status["client"] == {
        "service": "/etc/init.d/aliyun-service",
        "service_evidence": "the default of assist:lookup:sysv_script",
        "installed": False,
        "incomplete": None,
        "running": False,
        "restart_pending": False,
        "enabled": False,
        "version": None,
        "pids": [],
    }
    assert status["daemon"]["installed"] is False and status["daemon"]["running"] is False
    assert assist.is_running() is False and assist.version()["agent"] is None


def test_stop_disable_and_remove_daemon_succeed_with_no_changes_and_say_why(assist, bare):
    before = tree(bare)
    assert assist.stop(disable=True) == {"comment": f"The agent is not installed ({MISSING}): no client to stop", "changes": {}}
    assert assist.stop(test=True)["changes"] == {}
    assert assist.disable() == {"comment": f"The agent is not installed ({MISSING}): nothing starts at boot", "changes": {}}
    assert assist.remove_daemon() == {"comment": "The watchdog is absent; nothing to do", "changes": {}}
    assert tree(bare) == before


@pytest.mark.parametrize(
    "verb, step",
    [("start", "starting the client"), ("restart", "restarting the client"), ("enable", "turning start at boot on")],
)
def test_start_restart_and_enable_fail_naming_what_is_missing_and_what_to_install(assist, bare, verb, step):
    before = tree(bare)
    for test in (False, True):
        assert (
            refusal(getattr(assist, verb), test=test)
            == f"{step} failed: the Cloud Assistant agent is not installed: {MISSING}. {INSTALL}"
        )
    assert tree(bare) == before


def test_stop_removes_a_watchdog_left_without_its_client(assist, lone_watchdog):
    assert assist.stop(test=True)["changes"] == {"daemon": {"old": "running", "new": "absent"}}
    ret = assist.stop()
    assert ret == {
        "comment": f"Removed the watchdog. The agent is not installed ({MISSING}): no client to stop",
        "changes": {"daemon": {"old": "running", "new": "absent"}},
    }
    assert lone_watchdog.daemon_pids() == [] and not lone_watchdog.daemon_dir.exists()
    assert assist.stop()["changes"] == {}


def test_the_dead_state_is_met_and_the_running_state_fails_with_what_to_install(loaders, lookup, bare):
    loaders.context.clear()
    states = loaders.states.assist
    before = tree(bare)
    dead = states.dead("assist-client-dead", enable=False)
    assert (dead.result, dead.changes) == (True, {})
    assert f"The agent is not installed ({MISSING}): no client to stop" in dead.comment
    running = states.running("assist-client-running")
    assert (running.result, running.changes) == (False, {})
    assert running.comment == f"starting the client failed: the Cloud Assistant agent is not installed: {MISSING}. {INSTALL}"
    assert tree(bare) == before


# What salt/assist/init.sls renders for the frozen policy (the integration tier renders
# the file itself, from the repository's pillar).
FROZEN_SLS = """
assist-daemon-absent:
  assist.daemon_absent: []

assist-client-dead:
  assist.dead:
    - enable: false
    - remove_daemon: true
    - require:
      - assist: assist-daemon-absent
"""


def test_the_frozen_states_succeed_removing_only_a_watchdog_left_behind(loaders, lookup, lone_watchdog):
    loaders.context.clear()
    before = files(lone_watchdog.dest)
    ret = loaders.modules.state.template_str(FROZEN_SLS)
    assert not ret.failed
    changes = {key.split("_|-")[1]: value["changes"] for key, value in ret.raw.items()}
    assert changes == {"assist-daemon-absent": {"daemon": {"old": "running", "new": "absent"}}, "assist-client-dead": {}}
    assert lone_watchdog.daemon_pids() == []
    # Only the watchdog went: its folder, and what assist_daemon --delete unregisters.
    gone = set(files(lone_watchdog.dest)) ^ set(before)
    assert gone and all(str(lone_watchdog.daemon_dir) in path or path.endswith("assist-daemon") for path in gone)


def test_the_audit_meets_a_dead_policy_and_drifts_from_a_running_one(assist, bare, frozen, loaders):
    found = frozen.modules.assist.audit()
    assert found == {
        "result": True,
        "comment": "The agent follows its policy",
        "policy": FROZEN,
        "agent": {"client": "not installed", "daemon": "absent", "enable": False, "version": None, "init_system": "sysvinit"},
        "drift": [],
    }
    assert frozen.context["retcode"] == 0
    assert assist.audit()["drift"] == [
        "the agent is not installed, policy says running",
        "watchdog is absent, policy says present",
    ]
    assert loaders.context["retcode"] == 1


def test_the_beacon_is_quiet_under_a_dead_policy_and_reports_drift_under_a_running_one(beacons, bare, frozen):
    assert fire(beacons(frozen)) == []
    ((what, data),) = fire(beacons())
    assert what == "drift" and data["drift"][0] == "the agent is not installed, policy says running"
    assert data["agent"]["client"] == "not installed"


# --------------------------------------------------------------------------- half an agent


def program_gone(agent):
    os.unlink(agent.client_path)
    return f"the init script /etc/init.d/aliyun-service runs /usr/local/share/aliyun-assist/{agent.version}/aliyun-service, which is missing"


def script_gone(agent):
    os.unlink(agent.sysv_script)
    return (
        f"the client /usr/local/share/aliyun-assist/{agent.version}/aliyun-service is there, but the init script "
        "/etc/init.d/aliyun-service is missing (assist:lookup:sysv_script)"
    )


def script_not_executable(agent):
    os.chmod(agent.sysv_script, 0o644)
    return "the init script /etc/init.d/aliyun-service is not executable"


@pytest.mark.parametrize("take_away", [program_gone, script_gone, script_not_executable])
def test_half_an_agent_is_said_with_its_paths_and_no_verb_acts_on_it(assist, half, take_away, frozen):
    words = take_away(half)
    half.start_watchdog()  # a watchdog whose client cannot run: stop must not guess what to do
    before = files(half.dest), half.daemon_pids()
    # (Not whether it runs: the watchdog keeps trying to start it, each try a process for a moment.)
    client = assist.status()["client"]
    assert (client["installed"], client["incomplete"]) == (False, words)
    refusal = f"the Cloud Assistant agent is half installed: {words}. Reinstall it, or remove what is left of it"
    for verb in ("stop", "start", "restart", "enable", "disable"):
        with pytest.raises(CommandExecutionError, match="^" + re.escape(refusal)):
            getattr(assist, verb)()
    audit = frozen.modules.assist.audit()
    assert audit["agent"]["client"] == "half installed"
    assert audit["drift"][0] == f"the agent is half installed: {words}"
    assert (files(half.dest), half.daemon_pids()) == before
