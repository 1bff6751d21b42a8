"""The beacon and the reactor keep a minion in its policy: watch-2 (frozen: agent
stopped, watchdog removed, off at boot) runs the assist beacon every 2 s; the master
runs salt/assist/reactor/drift.sls for its events."""

import subprocess
import time

import pytest

from tests.conftest import all_started
from tests.integration.fleet.conftest import (
    BEACON_INTERVAL,
    ENFORCE_INTERVAL,
    EVENTS_ARRIVE,
    WATCHED,
    fire_from_minion,
    fresh_agent,
    minion_overrides,
    state_jobs,
)
from tests.support.fakeagent import holds_for, wait_until

# The beacon's next run, the reactor, the runner's publication and the state run.
PUT_BACK_WITHIN = BEACON_INTERVAL + 20
# The arguments of the state run the enforce publishes, as the job records them: the
# minion's own assist state, queued behind a state run already going on there.
ENFORCED = ["assist", {"__kwarg__": True, "queue": True}]


@pytest.fixture(scope="module")
def watched(fleet_master, fleet_roots, fleet_cli):
    """watch-2, frozen, with the beacon as docs/fleet.md configures it (a shorter
    interval); paused before the assist modules arrive, so each test says when the
    beacon starts looking."""
    overrides = minion_overrides(
        fleet_roots[WATCHED],
        {"assist_policy": "frozen"},
        beacons={"assist": [{"interval": BEACON_INTERVAL}]},
        # Salt runs the beacons once a second and counts their interval in loop
        # intervals: with salt-factories' 0.05 s, "2" would mean 40 s. Salt's default.
        loop_interval=1,
    )
    factory = fleet_master.salt_minion_daemon(WATCHED, overrides=overrides)
    with all_started([factory]):
        pause(fleet_cli, True)
        assert fleet_cli.run("saltutil.sync_all", minion_tgt=WATCHED).returncode == 0
        yield factory


def pause(cli, on):
    """Pause or resume enforcement on watch-2 the documented way (grain assist_paused);
    wait until the minion's own process sees it (a job forks from it)."""
    if on:
        assert cli.run("grains.setval", "assist_paused", "true", minion_tgt=WATCHED).returncode == 0
    else:
        assert cli.run("grains.delkey", "assist_paused", minion_tgt=WATCHED).returncode == 0
    assert wait_until(
        lambda: cli.run("grains.get", "assist_paused", minion_tgt=WATCHED).data == (True if on else ""),
        timeout=20,
        interval=0.5,
    )
    time.sleep(BEACON_INTERVAL)  # a beacon run that started before has ended


@pytest.fixture
def agent(watched, fleet_cli, fleet_roots):
    """A fresh agent on watch-2, running with its watchdog and on at boot: three
    differences from the frozen policy. Enforcement is paused while it is installed."""
    pause(fleet_cli, True)
    agent = fresh_agent(fleet_roots[WATCHED])
    try:
        agent.start()
        yield agent
    finally:
        pause(fleet_cli, True)
        agent.cleanup()


def drift_events(event_listener, master, since):
    time.sleep(EVENTS_ARRIVE)
    found = event_listener.get_events([(master.id, f"salt/beacon/{WATCHED}/assist/drift")], after_time=since)
    return sorted(found, key=lambda event: event.stamp)


def put_back(agent):
    return wait_until(lambda: not agent.client_pids() and not agent.daemon_pids(), timeout=PUT_BACK_WITHIN, interval=0.2)


def test_a_paused_minion_is_left_alone_and_resumed_each_drift_is_put_back_once(fleet_master, fleet_cli, event_listener, agent):
    since = time.time()
    # Paused: for three beacon intervals nothing is said and nothing is done.
    assert holds_for(lambda: agent.client_pids() and agent.daemon_pids(), 3 * BEACON_INTERVAL)
    assert drift_events(event_listener, fleet_master, since) == []
    assert state_jobs(event_listener, fleet_master, since, WATCHED) == []

    pause(fleet_cli, False)
    ok = put_back(agent)
    if not ok:
        for e in sorted(
            event_listener.get_events([(fleet_master.id, "*"), (WATCHED, "*")], after_time=since), key=lambda e: e.stamp
        ):
            if "master_req" not in e.tag and "minion_ping" not in e.tag:
                print("EV", e.daemon_id, e.tag, str(e.data)[:300])
    assert ok, "the beacon and reactor did not stop the agent"
    assert holds_for(lambda: agent.client_pids() == [], 2 * BEACON_INTERVAL)
    events = drift_events(event_listener, fleet_master, since)
    assert [event.data["drift"] for event in events] == [
        [
            "client is running, policy says dead",
            "watchdog is running, policy says absent",
            "start at boot is on, policy says off",
        ]
    ]
    jobs = state_jobs(event_listener, fleet_master, since, WATCHED)
    assert [(job.data["fun"], job.data["arg"]) for job in jobs] == [("state.apply", ENFORCED)]
    assert event_listener.get_events([(fleet_master.id, f"salt/beacon/{WATCHED}/assist/compliant")], after_time=since)

    # The client started again behind Salt's back: one more drift, one more state run.
    again = time.time()
    subprocess.run([str(agent.sysv_script), "start"], check=True, capture_output=True, timeout=15)
    assert wait_until(agent.client_pids, timeout=5)
    assert put_back(agent), "the restarted client was not stopped again"
    assert holds_for(lambda: agent.client_pids() == [], 2 * BEACON_INTERVAL)
    assert [event.data["drift"] for event in drift_events(event_listener, fleet_master, again)] == [
        ["client is running, policy says dead"]
    ]
    assert len(state_jobs(event_listener, fleet_master, again, WATCHED)) == 1
    assert len(state_jobs(event_listener, fleet_master, since, WATCHED)) == 2


def enforcements(event_listener, master, since):
    """What the reactor's runner assist.enforce answered since ``since``: (when, answer)."""
    found = event_listener.get_events([(master.id, "salt/run/*/ret")], after_time=since)
    return [
        (event.stamp.timestamp(), event.data["return"])
        for event in sorted(found, key=lambda event: event.stamp)
        if event.data.get("fun") == "runner.assist.enforce"
    ]


FLOOD = 20


def test_a_flood_of_forged_drift_events_starts_at_most_one_state_run_per_interval(fleet_master, event_listener, watched, agent):
    since = time.time()
    # What a misbehaving minion can send: its own tag many times, a pattern, an unknown
    # id, a list, and data that tries to choose the state, the pillar or the target.
    forged = {"sls": "evil", "pillar": {"assist": {"client": "running"}}, "tgt": "*", "id": "web-2"}
    fire_from_minion(watched, f"salt/beacon/{WATCHED}/assist/drift", forged, times=FLOOD)
    for tag in ("salt/beacon/*/assist/drift", "salt/beacon/nobody-2/assist/drift", "salt/beacon/web-2,db-2/assist/drift"):
        fire_from_minion(watched, tag, forged)
    # Every event reaches the runner (the reactor drops none here); it refuses the names
    # that are no accepted minion and lets one state run through per interval.
    assert wait_until(lambda: len(enforcements(event_listener, fleet_master, since)) >= FLOOD + 3, timeout=60, interval=1)
    answers = enforcements(event_listener, fleet_master, since)
    refused = sorted(answer["minion"] for _, answer in answers if answer["minion"] != WATCHED)
    assert refused == ["*", "nobody-2", "web-2,db-2"]
    assert all(answer["published"] is None for _, answer in answers if answer["minion"] != WATCHED)
    time.sleep(EVENTS_ARRIVE)
    jobs = state_jobs(event_listener, fleet_master, since)
    assert [job.data["jid"] for job in jobs] == [answer["published"] for _, answer in answers if answer["published"]]
    # Only watch-2, only its own assist state, and no more often than
    # assist_enforce_interval over the time the reactor took to work through the flood.
    assert all(job.data["minions"] == [WATCHED] and job.data["arg"] == ENFORCED for job in jobs), jobs
    # The runner takes each turn at least ENFORCE_INTERVAL after the last; its answers
    # arrive after the publication, a little late each: one run of slack for that.
    took = answers[-1][0] - answers[0][0]
    assert 1 <= len(jobs) <= 2 + took / ENFORCE_INTERVAL, (len(jobs), took)
