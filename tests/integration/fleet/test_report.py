"""salt-run assist.report over real minions, as an operator reads it: the counts before
and after a highstate, the minions whose audit fails, the minions that do not answer,
the exit status with strict=True, the table per minion, and bad arguments."""

import time

import pytest

from tests.integration.fleet.conftest import BROKEN_POLICY, EVENTS_ARRIVE
from tests.support.fakeagent import holds_for

FOUR = "web-2,build-2,db-2,bad-2"
THREE = "web-2,build-2,db-2"
VERSION = "2.5.3.650"


def report(fleet_run, tgt, *args):
    return fleet_run.run("assist.report", f"tgt={tgt}", "tgt_type=list", *args)


def test_the_report_counts_drift_and_errors_before_a_highstate_and_none_after(fleet_run, fleet_cli, fleet_agents):
    before = report(fleet_run, FOUR)
    assert before.returncode == 0, before  # not strict: a report, not a verdict
    assert before.data["summary"] == {"targeted": 4, "answered": 4, "compliant": 1, "drifted": 2, "errors": 1, "unreachable": 0}
    assert before.data["drifted"] == {
        "build-2": ["watchdog is running, policy says absent"],
        "db-2": [
            "client is running, policy says dead",
            "watchdog is running, policy says absent",
            "start at boot is on, policy says off",
        ],
    }
    assert before.data["errors"] == {"bad-2": BROKEN_POLICY}
    assert before.data["unreachable"] == []
    assert before.data["counts"] == {
        "client": {"running": 3},
        "daemon": {"present": 3},
        "enable": {"on": 3},
        "version": {VERSION: 3},
        "init_system": {"sysvinit": 3},
    }
    assert report(fleet_run, FOUR, "strict=True").returncode == 1
    # The audit itself, as a check in a script: non-zero while anything drifts.
    audit = fleet_cli.run("-L", "assist.audit", minion_tgt=THREE)
    assert audit.returncode != 0 and audit.data["db-2"]["result"] is False, audit

    highstate = fleet_cli.run("-L", "state.highstate", minion_tgt=THREE)
    assert highstate.returncode == 0, highstate

    after = report(fleet_run, FOUR)
    assert after.data["summary"] == {"targeted": 4, "answered": 4, "compliant": 3, "drifted": 0, "errors": 1, "unreachable": 0}
    assert after.data["drifted"] == {}
    assert after.data["counts"] == {
        "client": {"dead": 1, "running": 2},
        "daemon": {"absent": 2, "present": 1},
        "enable": {"off": 1, "on": 2},
        "version": {VERSION: 3},
        "init_system": {"sysvinit": 3},
    }
    # What the counts say is what runs.
    assert holds_for(lambda: fleet_agents["db-2"].client_pids() == [], 1.0)
    assert fleet_agents["build-2"].client_pids() and not fleet_agents["build-2"].daemon_pids()
    assert fleet_agents["web-2"].client_pids() and fleet_agents["web-2"].daemon_pids()

    assert fleet_cli.run("-L", "assist.audit", minion_tgt=THREE).returncode == 0
    strict = report(fleet_run, THREE, "strict=True")
    assert strict.returncode == 0, strict
    assert strict.data["summary"]["compliant"] == 3
    broken = report(fleet_run, FOUR, "strict=True")
    assert broken.returncode == 1 and broken.data["errors"] == {"bad-2": BROKEN_POLICY}


def test_a_minion_without_the_module_is_an_error_and_a_stopped_one_is_unreachable(fleet_run, fleet_agents, spare):
    targets = "web-2,spare-2"
    first = report(fleet_run, targets, "timeout=3", "gather_job_timeout=3")
    assert first.data["summary"] == {"targeted": 2, "answered": 2, "compliant": 1, "drifted": 0, "errors": 1, "unreachable": 0}
    assert first.data["errors"] == {"spare-2": "'assist.audit' is not available."}

    spare.terminate()
    started_at = time.monotonic()
    silent = report(fleet_run, targets, "timeout=3", "gather_job_timeout=3", "strict=True")
    took = time.monotonic() - started_at
    assert silent.returncode == 1, silent
    assert silent.data["summary"] == {"targeted": 2, "answered": 1, "compliant": 1, "drifted": 0, "errors": 0, "unreachable": 1}
    assert silent.data["unreachable"] == ["spare-2"]
    assert silent.data["retcode"] == 1
    # The silent minion costs the two timeouts (3 + 3 s), plus salt-run's own start.
    assert took < 3 + 3 + 6, took


def test_a_minion_without_the_agent_is_compliant_and_counted_not_installed(fleet_run, fleet_cli, bare_minion):
    found = report(fleet_run, "bare-2", "strict=True")
    assert found.returncode == 0, found
    assert found.data["summary"] == {"targeted": 1, "answered": 1, "compliant": 1, "drifted": 0, "errors": 0, "unreachable": 0}
    assert found.data["counts"]["client"] == {"not installed": 1}
    assert found.data["counts"]["version"] == {"not installed": 1}
    before = sorted(str(path) for path in bare_minion.rglob("*"))
    highstate = fleet_cli.run("state.highstate", minion_tgt="bare-2")
    assert highstate.returncode == 0, highstate
    assert all(ret["result"] is True and ret["changes"] == {} for ret in highstate.data.values()), highstate.data
    assert sorted(str(path) for path in bare_minion.rglob("*")) == before
    start = fleet_cli.run("assist.start", minion_tgt="bare-2")
    assert start.returncode != 0
    assert "the Cloud Assistant agent is not installed" in start.stdout + start.stderr
    assert "aliyun-assist" in start.stdout + start.stderr


def test_by_minion_lists_one_row_per_minion_for_the_table_outputter(fleet_run, fleet_agents):
    rows = report(fleet_run, FOUR, "by_minion=True")
    assert rows.returncode == 0, rows
    by_id = {row["minion"]: row for row in rows.data["minions"]}
    assert by_id["db-2"]["status"] == "drifted"
    assert by_id["db-2"]["detail"].startswith("client is running, policy says dead; ")
    assert by_id["bad-2"] == {
        "minion": "bad-2",
        "status": "error",
        "client": "",
        "daemon": "",
        "enable": "",
        "version": "",
        "init_system": "",
        "detail": BROKEN_POLICY,
    }
    assert by_id["web-2"]["status"] == "compliant" and by_id["web-2"]["version"] == VERSION

    table = fleet_run.run("--out=table", "assist.report", f"tgt={FOUR}", "tgt_type=list", "by_minion=True")
    assert table.returncode == 0, table
    lines = table.stdout.splitlines()
    header = next(line for line in lines if "Minion" in line)
    for column in ("Client", "Daemon", "Detail", "Enable", "Init System", "Status", "Version"):
        assert column in header
    for minion in ("web-2", "build-2", "db-2", "bad-2"):
        assert any(minion in line for line in lines), minion


@pytest.mark.parametrize(
    "argument, named",
    [
        ("tgt_type=bogus", "tgt_type is 'bogus'; use one of "),
        ("timeout=-1", "timeout is -1; give a whole number of seconds"),
        ("gather_job_timeout=0", "gather_job_timeout is 0"),
        ("strict=maybe", "strict is 'maybe'; use True or False"),
    ],
)
def test_bad_arguments_are_named_and_nothing_is_published(
    fleet_run, fleet_master, fleet_minions, event_listener, argument, named
):
    since = time.time()
    ret = fleet_run.run("assist.report", "tgt=*", argument)
    assert ret.returncode == 2, ret
    assert named in ret.data["error"] and ret.data["error"].endswith("nothing was published")
    time.sleep(EVENTS_ARRIVE)
    published = event_listener.get_events([(fleet_master.id, "salt/job/*/new")], after_time=since)
    assert [event for event in published if event.data.get("fun") == "assist.audit"] == []
