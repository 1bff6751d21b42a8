"""The product through Salt's syndic, driven from the master of masters: every minion,
under the top master or under the syndic's master, is reached once and really acts.

The topology and which Salt release runs it (3007's daemons when pytest runs on 3008,
whose syndic is broken): tests/integration/syndic.py.
"""

import json
import subprocess

import pytest

from tests.integration import syndic
from tests.support import fakeagent
from tests.support.fakeagent import holds_for


@pytest.fixture(scope="module")
def scripts():
    return syndic.scripts_dir()


@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory):
    return {name: tmp_path_factory.mktemp(name) for name in syndic.MINIONS}


@pytest.fixture(scope="module")
def topology(request, event_listener, tmp_path_factory, scripts, ext_root, sandboxes):
    factories = syndic.manager(request, event_listener, tmp_path_factory.mktemp("syn"), scripts)
    topology = syndic.Topology(factories, ext_root, sandboxes)
    with topology.started():
        synced = returns(topology, "*", "saltutil.sync_all")
        assert synced.minions() == sorted(syndic.MINIONS), synced.pairs
        assert salt_run(topology, "saltutil.sync_runners")[0] == 0
        yield topology


@pytest.fixture
def agents(topology, sandboxes):
    """A fresh, running fake agent under every minion; never-delete trees unchanged after."""
    with fakeagent.running(sandboxes) as agents:
        yield agents


def returns(topology, target, function, *args):
    """salt TARGET FUNCTION on the top master: its returns in the order they arrived, one
    entry per return (a minion answering twice is there twice)."""
    done = subprocess.run(topology.salt_argv(target, function, *args), capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    decoder, text, pos, answers = json.JSONDecoder(), done.stdout, 0, []
    while pos < len(text.rstrip()):
        while text[pos].isspace():
            pos += 1
        document, pos = decoder.raw_decode(text, pos)
        answers += list(document.items())
    return Returns(answers)


class Returns:
    """(minion, value) pairs as they arrived."""

    def __init__(self, pairs):
        self.pairs = pairs

    def minions(self):
        """Every answering minion, sorted, as often as it answered."""
        return sorted(name for name, _ in self.pairs)

    def by_minion(self):
        return dict(self.pairs)


def test_the_topology_runs_a_release_whose_syndic_works(topology, scripts):
    """Guards the choice in syndic.py: the daemons are the release it says."""
    versions = returns(topology, "*", "test.version").by_minion()
    assert set(versions.values()) == {syndic.release(scripts)}
    assert int(syndic.release(scripts).split(".")[0]) not in syndic.BROKEN_SYNDIC


def test_status_from_the_top_counts_every_minion_once(topology, agents):
    status = returns(topology, "*", "assist.status")
    assert status.minions() == sorted(syndic.MINIONS)  # each once: none lost, none doubled
    for name, report in status.by_minion().items():
        assert report["client"]["running"] is True, name
        assert report["client"]["pids"] == agents[name].client_pids(), name
        assert report["daemon"]["running"] is True, name


def salt_run(topology, *args):
    done = subprocess.run(topology.salt_run_argv(*args), capture_output=True, text=True, timeout=600, check=False)
    return done.returncode, json.loads(done.stdout or "null"), done.stderr


def test_the_report_from_the_top_counts_every_minion_once(topology, agents):
    code, report, stderr = salt_run(topology, "assist.report", "strict=True")
    assert code == 0, (report, stderr)
    assert report["summary"] | {"targeted": None} == {
        "targeted": None,
        "answered": len(syndic.MINIONS),
        "compliant": len(syndic.MINIONS),
        "drifted": 0,
        "errors": 0,
        "unreachable": 0,
    }
    # The top holds only its own minions' keys and the syndic's: those under the syndic's
    # master are counted from their answers, each once.
    assert report["summary"]["targeted"] == len(syndic.MINIONS)


def test_stop_from_the_top_stops_the_agent_under_every_minion(topology, agents):
    stop = returns(topology, "*", "assist.stop")
    assert stop.minions() == sorted(syndic.MINIONS)
    for name, ret in stop.by_minion().items():
        assert ret["changes"] == {
            "daemon": {"old": "running", "new": "absent"},
            "client": {"old": "running", "new": "stopped"},
        }, name
    for name, agent in agents.items():
        # Down and staying down: a live watchdog (0.1 s poll) would restart it at once.
        assert holds_for(lambda agent=agent: agent.client_pids() == [], 1.0), name
        assert agent.daemon_pids() == [], name
        assert not agent.daemon_dir.exists(), name

    status = returns(topology, "*", "assist.status").by_minion()
    assert {name: report["client"]["running"] for name, report in status.items()} == dict.fromkeys(syndic.MINIONS, False)


def processes(agents):
    return {name: (agent.client_pids(), agent.daemon_pids()) for name, agent in agents.items()}


def rollout(topology, pillar):
    """salt-run state.orchestrate assist.orch.rollout on the top master."""
    return salt_run(topology, "state.orchestrate", "assist.orch.rollout", "pillar=" + json.dumps({"assist_rollout": pillar}))


def steps(ret):
    """The orchestration's steps in the order they ran: {id: (result, minions the step
    changed)}, as a list of (id, result, minions)."""
    (states,) = ret["data"].values()
    ran = sorted(states.values(), key=lambda state: state["__run_num__"])
    return [(state["__id__"], state["result"], sorted(state["changes"].get("ret", {}))) for state in ran]


def test_a_silent_minion_under_the_syndic_is_listed_and_refuses_a_rollout(topology, agents):
    before = processes(agents)
    with topology.minions["syn-low-2"].stopped():
        code, report, stderr = salt_run(topology, "assist.report", "strict=True", "timeout=5", "gather_job_timeout=5")
        assert code == 1, (report, stderr)
        assert report["summary"] == {
            "targeted": len(syndic.MINIONS),
            "answered": len(syndic.MINIONS) - 1,
            "compliant": len(syndic.MINIONS) - 1,
            "drifted": 0,
            "errors": 0,
            "unreachable": 1,
        }
        # Known to the top only from the syndic's list of the minions its master targeted.
        assert report["unreachable"] == ["syn-low-2"]

        code, ret, stderr = rollout(topology, {"target": "*", "canary": ["syn-low-1"]})
        assert code != 0, ret
        assert "syn-low-2 did not answer; start them, or leave them out" in json.dumps(ret) + stderr
    assert processes(agents) == before


@pytest.fixture(scope="module")
def frozen(topology):
    """Every minion in the frozen group (grain assist_policy=frozen, pillar rendered by
    each minion's own master): the rollout has work to do at both levels. Set once for
    the tests that use it (the module's last), undone at the end of the module."""

    def policy(*grain):
        assert returns(topology, "*", *grain).minions() == sorted(syndic.MINIONS)
        assert returns(topology, "*", "saltutil.refresh_pillar", "wait=True").minions() == sorted(syndic.MINIONS)
        return returns(topology, "*", "pillar.get", "assist:client").by_minion()

    assert policy("grains.setval", "assist_policy", "frozen") == dict.fromkeys(syndic.MINIONS, "dead")
    yield
    assert policy("grains.delkey", "assist_policy") == dict.fromkeys(syndic.MINIONS, "")


def test_a_rollout_from_the_top_reaches_both_levels_canary_first(topology, agents, frozen):
    code, ret, stderr = rollout(topology, {"target": "*", "canary": ["syn-low-1"], "batch": 2})
    assert code == 0, (ret, stderr[-2000:])
    # The canary under the syndic, then a wave across both levels, then the top's minion;
    # each step (its pillar refreshed, its state applied) reached exactly its own minions.
    assert steps(ret) == [
        ("assist-rollout-canary-pillar", True, ["syn-low-1"]),
        ("assist-rollout-canary", True, ["syn-low-1"]),
        ("assist-rollout-canary-audit", True, []),
        ("assist-rollout-wave-1-pillar", True, ["syn-low-2", "syn-mid"]),
        ("assist-rollout-wave-1", True, ["syn-low-2", "syn-mid"]),
        ("assist-rollout-wave-1-audit", True, []),
        ("assist-rollout-wave-2-pillar", True, ["syn-top-1"]),
        ("assist-rollout-wave-2", True, ["syn-top-1"]),
        ("assist-rollout-wave-2-audit", True, []),
        ("assist-rollout-report", True, []),
    ]
    for name, agent in agents.items():
        assert holds_for(lambda agent=agent: agent.client_pids() == [], 1.0), name
        assert agent.daemon_pids() == [] and not agent.daemon_dir.exists(), name


def test_a_failing_canary_under_the_syndic_halts_the_rollout(topology, agents, frozen):
    agents["syn-low-1"].set_fault("client-stop-fails")
    others = {name: agent for name, agent in agents.items() if name != "syn-low-1"}
    before = processes(others)
    code, ret, stderr = rollout(topology, {"target": "*", "canary": ["syn-low-1"], "batch": 2})
    assert code != 0, ret
    ran = steps(ret)
    assert [step[:2] for step in ran[:2]] == [("assist-rollout-canary-pillar", True), ("assist-rollout-canary", False)], ran
    assert all(result is not True for _, result, _ in ran[2:]), ran
    # Nobody else was touched, at either level: the same processes run, watchdogs included.
    assert processes(others) == before
