"""salt-run state.orchestrate assist.orch.rollout: the canary first, then waves, an
audit after each step, the whole rollout halting at the first failure with the minions
not yet reached untouched."""

import json
import time

import pytest

from tests.integration.fleet.conftest import EVENTS_ARRIVE, state_jobs
from tests.support.fakeagent import holds_for

TARGET = "L@web-2,build-2,db-2"


def rollout(fleet_run, rollout, *flags):
    return fleet_run.run(*flags, "state.orchestrate", "assist.orch.rollout", "pillar=" + json.dumps({"assist_rollout": rollout}))


def steps(ret):
    """The orchestration's steps, in the order they ran: (id, result)."""
    (states,) = ret.data["data"].values() if "data" in ret.data else ret.data.values()
    ran = sorted(states.values(), key=lambda state: state["__run_num__"])
    return [(state["__id__"], state["result"]) for state in ran]


def processes(agents):
    return {name: (agent.client_pids(), agent.daemon_pids()) for name, agent in agents.items()}


def state_runs(event_listener, master, since):
    """Minions that were sent a state run since ``since``, from the master's events (as
    forwarded to the test: given a moment to arrive)."""
    time.sleep(EVENTS_ARRIVE)
    return sorted(minion for event in state_jobs(event_listener, master, since) for minion in event.data["minions"])


def test_a_good_rollout_converges_every_minion_canary_first(fleet_run, fleet_master, fleet_agents, event_listener):
    since = time.time()
    ret = rollout(fleet_run, {"target": TARGET, "canary": ["db-2"], "batch": "50%"})
    assert ret.returncode == 0, ret
    assert steps(ret) == [
        ("assist-rollout-canary-pillar", True),
        ("assist-rollout-canary", True),
        ("assist-rollout-canary-audit", True),
        ("assist-rollout-wave-1-pillar", True),
        ("assist-rollout-wave-1", True),
        ("assist-rollout-wave-1-audit", True),
        ("assist-rollout-wave-2-pillar", True),
        ("assist-rollout-wave-2", True),
        ("assist-rollout-wave-2-audit", True),
        ("assist-rollout-report", True),
    ]
    # One state run per minion, the canary first; the waves: half of the other two each.
    assert state_runs(event_listener, fleet_master, since) == ["build-2", "db-2", "web-2"]
    # The plan ran in the rendering process, not as a runner job of saltutil.runner,
    # whose client Salt 3008 leaves to the garbage collector (docs/fleet.md, "Known issues").
    runner_jobs = event_listener.get_events([(fleet_master.id, "salt/run/*/new")], after_time=since)
    assert [event.data["fun"] for event in runner_jobs if event.data.get("fun") == "runner.assist.plan"] == []
    assert "runner.assist.report" in [event.data.get("fun") for event in runner_jobs]  # the events were seen
    assert holds_for(lambda: fleet_agents["db-2"].client_pids() == [], 1.0)
    assert not fleet_agents["db-2"].daemon_pids()
    assert fleet_agents["build-2"].client_pids() and not fleet_agents["build-2"].daemon_pids()
    assert fleet_agents["web-2"].client_pids() and fleet_agents["web-2"].daemon_pids()
    report = fleet_run.run("assist.report", f"tgt={TARGET}", "tgt_type=compound", "strict=True")
    assert report.returncode == 0 and report.data["summary"]["compliant"] == 3, report


def test_a_failing_canary_halts_the_rollout_and_the_others_stay_as_they_were(
    fleet_run, fleet_master, fleet_agents, event_listener
):
    # The canary's watchdog refuses to stop: removing it fails for real.
    fleet_agents["build-2"].set_fault("daemon-stop-fails")
    before = processes(fleet_agents)
    since = time.time()
    ret = rollout(fleet_run, {"target": TARGET, "canary": ["build-2"], "batch": 1})
    assert ret.returncode != 0, ret
    ran = steps(ret)
    assert ran[:2] == [("assist-rollout-canary-pillar", True), ("assist-rollout-canary", False)], ran
    assert all(result is not True for _, result in ran[2:]), ran
    assert "assist_daemon --stop" in json.dumps(ret.data)
    assert state_runs(event_listener, fleet_master, since) == ["build-2"]
    # Nobody else was touched: the same processes run, watchdogs included.
    assert processes(fleet_agents) == before


def test_a_policy_changed_in_pillar_is_rolled_out_and_each_step_audited_by_it(fleet_run, fleet_cli, fleet_pillar, fleet_agents):
    """An operator moves web-2 and build-2 to the frozen group in pillar, refreshes
    nothing, and rolls it out. A state run compiles the new pillar, but the minion's own
    copy, which its audit reads, stays the old one unless the rollout refreshes it."""
    top = (fleet_pillar / "top.sls").read_text()
    moved = ["web-2", "build-2"]
    try:
        (fleet_pillar / "top.sls").write_text(top + f"  '{','.join(moved)}':\n    - match: list\n    - assist.frozen\n")
        ret = rollout(fleet_run, {"target": "L@" + ",".join(moved), "canary": ["web-2"]})
        assert ret.returncode == 0, ret
        assert all(result is True for _, result in steps(ret)), steps(ret)
        for name in moved:
            assert fleet_agents[name].client_pids() == [] and fleet_agents[name].daemon_pids() == [], name
            # Afterwards the minion judges by the policy rolled out (its beacon and mine too).
            audit = fleet_cli.run("assist.audit", minion_tgt=name)
            assert audit.data["result"] is True and audit.data["policy"]["client"] == "dead", audit
    finally:
        (fleet_pillar / "top.sls").write_text(top)
        fleet_cli.run("-L", "saltutil.refresh_pillar", "wait=True", minion_tgt=",".join(moved))


@pytest.mark.parametrize(
    "given, named",
    [
        ({"canary": ["db-2"]}, "pillar assist_rollout:target is missing"),
        ({"target": TARGET, "batch": "ten"}, "pillar assist_rollout:batch is 'ten'"),
        ({"target": TARGET, "canary": "db-2"}, "pillar assist_rollout:canary must be a list of minion ids"),
        ({"target": TARGET, "canary": ["nobody-2"]}, "pillar assist_rollout:canary: nobody-2 not among the minions"),
    ],
)
def test_a_bad_rollout_pillar_names_the_key_and_changes_nothing(
    fleet_run, fleet_master, fleet_agents, event_listener, given, named
):
    before = processes(fleet_agents)
    since = time.time()
    ret = rollout(fleet_run, given)
    assert ret.returncode != 0, ret
    assert named in ret.stdout + ret.stderr, ret
    assert state_runs(event_listener, fleet_master, since) == []
    assert processes(fleet_agents) == before


def test_a_silent_minion_in_the_target_refuses_the_rollout_before_any_step(
    fleet_run, fleet_master, fleet_agents, event_listener, spare
):
    spare.terminate()  # its key stays accepted: the master still targets it
    before = processes(fleet_agents)
    since = time.time()
    # Salt's default timeout, as an operator's salt-run has it: the plan's test.ping waits
    # it (then gather_job_timeout) for the silent minion. fleet_run passes its own 180 s.
    ret = rollout(fleet_run, {"target": f"{TARGET},spare-2", "canary": ["db-2"]}, "--timeout=5")
    assert ret.returncode != 0, ret
    assert "spare-2 did not answer; start them, or leave them out" in ret.stdout + ret.stderr, ret
    assert state_runs(event_listener, fleet_master, since) == []
    assert processes(fleet_agents) == before
