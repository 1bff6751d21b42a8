"""Fleet operations through a real salt-master and salt-minions: the report runner, the
beacon and reactor, the rollout orchestration.

A master of their own, configured as docs/fleet.md tells an operator: the reactor for the
assist beacon, the runners synced from file_roots (salt-run saltutil.sync_runners). Its
pillar is the repository's, plus one group with a broken policy (a minion whose audit
fails). Minions and their pillar group:

  web-2    no group: the defaults (agent runs, watchdog stays)
  build-2  'build-*': unwatched (agent runs, watchdog removed, starts at boot)
  db-2     grain assist_policy=frozen: frozen (agent stopped, watchdog removed, off at boot)
  bad-2    'bad-*': pillar assist:client is "stopped" (refused by the policy check)
  watch-2  frozen, with the assist beacon every 2 s (only the reactor tests use it)
  bare-2   frozen, a system without the agent (only the report's test of it starts it)
"""

import shutil

import pytest
import salt.utils.event

from tests.conftest import REPO, all_started
from tests.support import fakeagent

MINIONS = {
    "web-2": {},
    "build-2": {},
    "db-2": {"assist_policy": "frozen"},
    "bad-2": {},
}
WATCHED = "watch-2"
BEACON_INTERVAL = 2
# The least time between two state runs the reactor starts on one minion (the master's
# assist_enforce_interval); below the beacon's interval, as docs/fleet.md says.
ENFORCE_INTERVAL = 1.5
# Seconds the master's events may take to reach the test's event listener.
EVENTS_ARRIVE = 2
BROKEN_POLICY = 'pillar assist:client is "stopped"; use running or dead'


@pytest.fixture(scope="session")
def fleet_pillar(tmp_path_factory):
    """The repository's pillar top with one more group, bad-*, whose policy is broken.
    It lies first in pillar_roots (its top.sls is the one read); the groups' files come
    from the repository's pillar folder, the second root."""
    root = tmp_path_factory.mktemp("fleet-pillar")
    top = (REPO / "pillar" / "top.sls").read_text()
    (root / "top.sls").write_text(top.rstrip("\n") + "\n  'bad-*':\n    - broken\n")
    (root / "broken.sls").write_text("assist:\n  client: stopped\n")
    return root


@pytest.fixture(scope="session")
def fleet_master(salt_factories, ext_root, fleet_pillar):
    factory = salt_factories.salt_master_daemon(
        "fleet-master",
        overrides={
            "file_roots": {"base": [str(REPO / "salt"), str(ext_root)]},
            "pillar_roots": {"base": [str(fleet_pillar), str(REPO / "pillar")]},
            "reactor": [{"salt/beacon/*/assist/*": ["salt://assist/reactor/drift.sls"]}],
            "assist_enforce_interval": ENFORCE_INTERVAL,
        },
    )
    with factory.started():
        synced = factory.salt_run_cli(timeout=180).run("saltutil.sync_runners")
        assert synced.returncode == 0 and "runners.assist" in str(synced.data), synced
        yield factory


@pytest.fixture(scope="session")
def fleet_cli(fleet_master):
    return fleet_master.salt_cli(timeout=120)


@pytest.fixture(scope="session")
def fleet_run(fleet_master):
    return fleet_master.salt_run_cli(timeout=180)


@pytest.fixture(scope="session")
def fleet_roots(tmp_path_factory):
    return {name: tmp_path_factory.mktemp(name) for name in (*MINIONS, WATCHED)}


def minion_overrides(root, grains=None, **more):
    return {
        "grains": grains or {},
        "assist": {"lookup": {"root": str(root), "run_image_programs": True, "verify_seconds": 2}},
        **more,
    }


@pytest.fixture(scope="session")
def fleet_minions(fleet_master, fleet_roots, fleet_cli):
    factories = {
        name: fleet_master.salt_minion_daemon(name, overrides=minion_overrides(fleet_roots[name], grains))
        for name, grains in MINIONS.items()
    }
    with all_started(factories.values()):
        ret = fleet_cli.run("-L", "saltutil.sync_all", minion_tgt=",".join(MINIONS))
        assert ret.returncode == 0, ret
        yield factories


@pytest.fixture
def fleet_agents(fleet_minions, fleet_roots):
    """A fresh, running fake agent (client and watchdog) on web-2, build-2, db-2, bad-2."""
    agents = {}
    try:
        for name in MINIONS:
            agents[name] = fresh_agent(fleet_roots[name])
            agents[name].start()
        yield agents
    finally:
        for agent in agents.values():
            agent.cleanup()


def fresh_agent(root):
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    return fakeagent.install(root, init="sysvinit")


@pytest.fixture
def spare(fleet_master, fleet_roots, tmp_path):
    """spare-2: a minion that was never synced (no assist module), with an agent; its
    key is deleted afterwards."""
    agent = fresh_agent(tmp_path / "root")
    factory = fleet_master.salt_minion_daemon("spare-2", overrides=minion_overrides(tmp_path / "root"))
    try:
        agent.start()
        with all_started([factory]):
            yield factory
    finally:
        agent.cleanup()
        fleet_master.salt_key_cli().run("-d", "spare-2", "-y")


@pytest.fixture
def bare_minion(fleet_master, fleet_cli, tmp_path):
    """bare-2: a minion of the frozen group whose system never had the agent, synced;
    its key is deleted afterwards."""
    root = fakeagent.bare(tmp_path / "root")
    factory = fleet_master.salt_minion_daemon("bare-2", overrides=minion_overrides(root, {"assist_policy": "frozen"}))
    try:
        with all_started([factory]):
            assert fleet_cli.run("saltutil.sync_all", minion_tgt="bare-2").returncode == 0
            yield root
    finally:
        fleet_master.salt_key_cli().run("-d", "bare-2", "-y")


def state_jobs(event_listener, master, after, minion=None):
    """The state jobs the master published since ``after`` (to ``minion`` alone, when
    given), from its events, in the order they were published."""
    published = event_listener.get_events([(master.id, "salt/job/*/new")], after_time=after)
    return sorted(
        (
            event
            for event in published
            if str(event.data.get("fun", "")).startswith("state.") and (minion is None or event.data.get("minions") == [minion])
        ),
        key=lambda event: event.stamp,
    )


def fire_from_minion(minion_factory, tag, data, times=1):
    """Send events to the master through a running minion, as a misbehaving minion can
    (its main process forwards what is put on its bus under fire_master)."""
    with salt.utils.event.get_event("minion", opts=minion_factory.config, listen=False) as bus:
        for _ in range(times):
            assert bus.fire_master(data, tag), "the minion's event bus refused the event"
