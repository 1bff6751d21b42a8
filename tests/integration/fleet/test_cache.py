"""salt-run assist.report source=cache over real minions: the shipped pillar
(pillar/assist/mine.sls) sends each minion's assist.mine_audit to the fleet master's
mine, the cached report counts it as the live report counts a publish, with ages, and
a change made by a verb reaches the cache within seconds."""

import datetime
import time

import salt.cache

from tests.integration.fleet.conftest import BROKEN_POLICY
from tests.support.fakeagent import wait_until

FOUR = "web-2,build-2,db-2,bad-2"
THREE = "web-2,build-2,db-2"
# The bound: a change by a verb is in the cached report within this.
FRESH_WITHIN = 10


def report(fleet_run, tgt, *args):
    return fleet_run.run("assist.report", f"tgt={tgt}", "tgt_type=list", *args)


def cached_answer(master, minion):
    """The minion's assist.mine_audit answer as the master keeps it (either layout)."""
    cache = salt.cache.factory(master.config)
    for bank, key in ((f"minions/{minion}", "mine"), ("mine", minion)):
        found = cache.fetch(bank, key) or {}
        if "assist.mine_audit" in found:
            return found["assist.mine_audit"]
    return None


def taken(answer):
    return datetime.datetime.fromisoformat(answer["taken"]).timestamp()


def test_the_cached_report_counts_as_the_live_one_and_sees_a_stop_within_seconds(
    fleet_run, fleet_cli, fleet_master, fleet_agents
):
    # The agents were just made afresh, behind Salt's back: send the answers now.
    sent = fleet_cli.run("-L", "mine.send", "assist.mine_audit", minion_tgt=FOUR)
    assert sent.returncode == 0, sent
    live = report(fleet_run, FOUR)
    cached = report(fleet_run, FOUR, "source=cache")
    assert cached.returncode == 0, cached
    for key in ("counts", "drifted", "errors"):
        assert cached.data[key] == live.data[key], key
    assert cached.data["errors"] == {"bad-2": BROKEN_POLICY}
    assert cached.data["summary"] == {
        "targeted": 4,
        "answered": 4,
        "compliant": 1,
        "drifted": 2,
        "errors": 1,
        "never": 0,
        "stale": 0,
    }
    assert (cached.data["never"], cached.data["stale"]) == ([], [])
    assert set(cached.data["ages"]) == set(FOUR.split(",")) and max(cached.data["ages"].values()) < 60, cached.data["ages"]

    before = time.time()
    stop = fleet_cli.run("-L", "assist.stop", minion_tgt=THREE)
    assert stop.returncode == 0 and all(ret["changes"] for ret in stop.data.values()), stop
    stopped = time.time()
    assert wait_until(
        lambda: all(
            (answer := cached_answer(fleet_master, minion))
            and taken(answer) >= before
            and answer["audit"]["agent"]["client"] == "dead"
            for minion in THREE.split(",")
        ),
        timeout=FRESH_WITHIN,
        interval=0.2,
    ), f"not in the cache {FRESH_WITHIN} s after the stop"
    assert time.time() - stopped < FRESH_WITHIN
    after = report(fleet_run, THREE, "source=cache")
    assert after.data["counts"]["client"] == {"dead": 3}
    assert after.data["counts"] == report(fleet_run, THREE).data["counts"]
    # The answers' own times: each taken after the stop began, by the minion's clock.
    assert all(age <= time.time() - before + 1 for age in after.data["ages"].values()), after.data["ages"]


def test_stale_and_never_and_strict(fleet_run, fleet_cli, fleet_agents, spare):
    # spare-2 was never synced: its mine has no assist.mine_audit, so no answer.
    sent = fleet_cli.run("mine.send", "assist.mine_audit", minion_tgt="web-2")
    assert sent.returncode == 0, sent
    targets = "web-2,spare-2"
    found = report(fleet_run, targets, "source=cache", "strict=True")
    assert found.returncode == 1, found
    assert found.data["never"] == ["spare-2"] and found.data["stale"] == []
    assert found.data["summary"]["compliant"] == 1
    time.sleep(2.5)
    old = report(fleet_run, "web-2", "source=cache", "max_age=2", "by_minion=True")
    assert old.returncode == 0, old
    (row,) = old.data["minions"]
    assert row["status"] == "compliant" and row["age"] >= 2
    stale = report(fleet_run, "web-2", "source=cache", "max_age=2", "strict=True")
    assert stale.returncode == 1 and stale.data["stale"] == ["web-2"], stale
    assert report(fleet_run, "web-2", "source=cache", "strict=True").returncode == 0


def test_bad_max_age_is_named(fleet_run, fleet_minions):
    ret = fleet_run.run("assist.report", "source=cache", "max_age=soon")
    assert ret.returncode == 2, ret
    assert "max_age is 'soon'; give a number of seconds above 0" in ret.data["error"]
