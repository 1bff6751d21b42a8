"""The execution module in-process against the fake agent: real processes, sysvinit path."""

import os

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.fakeagent import holds_for, wait_until


def test_status_reports_client_watchdog_version_and_evidence(assist, agent):
    status = assist.status()
    assert status["init"] == {"system": "sysvinit", "evidence": "/sbin/init contains 'sysvinit'"}
    assert status["client"]["running"] is True
    assert status["client"]["enabled"] is True
    assert status["client"]["version"] == "2.5.3.650" == assist.version()["agent"]
    assert status["client"]["pids"] == agent.client_pids()
    assert status["daemon"]["installed"] and status["daemon"]["running"]
    assert status["daemon"]["pids"] == agent.daemon_pids()


def test_the_fake_watchdog_restarts_a_client_stopped_out_of_order(agent):
    # The fixture's own proof that a wrong order is caught by behaviour.
    old = agent.client_pids()
    os.system(f"{agent.sysv_script} stop >/dev/null")
    assert wait_until(lambda: agent.client_pids() not in ([], old), timeout=2)


def test_stop_removes_the_watchdog_first_and_the_client_stays_down(assist, agent):
    before = agent.protected_snapshot()
    ret = assist.stop()
    assert ret["changes"] == {
        "daemon": {"old": "running", "new": "absent"},
        "client": {"old": "running", "new": "stopped"},
    }
    assert ret["comment"] == "Removed the watchdog, stopped the client"
    assert not os.path.exists(agent.daemon_dir)
    assert agent.daemon_pids() == []
    assert holds_for(lambda: agent.client_pids() == [], 1.0)
    assert assist.is_running() is False
    assert agent.protected_snapshot() == before


def test_stop_twice_changes_nothing_the_second_time(assist, agent):
    assist.stop()
    ret = assist.stop()
    assert ret == {"comment": "The client is stopped; nothing to do", "changes": {}}


def test_start_brings_the_client_back_and_twice_is_a_no_op(assist, agent):
    assist.stop()
    ret = assist.start()
    assert ret["changes"] == {"client": {"old": "stopped", "new": "running"}}
    assert agent.client_pids()
    assert assist.start()["changes"] == {}


def test_stop_without_removing_the_watchdog_is_refused_and_changes_nothing(assist, agent):
    pids, snapshot = (agent.client_pids(), agent.daemon_pids()), agent.protected_snapshot()
    with pytest.raises(
        CommandExecutionError, match="watchdog .* would restart the client; call assist.stop with remove_daemon=True"
    ):
        assist.stop(remove_daemon=False)
    assert (agent.client_pids(), agent.daemon_pids()) == pids
    assert os.path.isfile(agent.daemon_path)
    assert agent.protected_snapshot() == snapshot


def test_test_mode_predicts_and_changes_nothing(assist, agent):
    pids = agent.client_pids()
    ret = assist.stop(test=True)
    assert ret["comment"] == "Would remove the watchdog, stop the client"
    assert set(ret["changes"]) == {"daemon", "client"}
    assert agent.client_pids() == pids and os.path.isfile(agent.daemon_path)


def test_remove_daemon_leaves_the_client_running(assist, agent):
    pids = agent.client_pids()
    ret = assist.remove_daemon()
    assert ret["changes"] == {"daemon": {"old": "running", "new": "absent"}}
    assert assist.daemon_status() == {
        "installed": False,
        "running": False,
        "pids": [],
        "path": "/usr/local/share/assist-daemon/assist_daemon",
    }
    assert agent.client_pids() == pids
    assert assist.remove_daemon()["changes"] == {}


def test_restart_gives_a_new_client_process(assist, agent):
    assist.remove_daemon()
    old = agent.client_pids()
    assert assist.restart()["changes"] == {"client": {"old": "running", "new": "restarted"}}
    assert agent.client_pids() and agent.client_pids() != old


def test_disable_and_enable_move_the_rc_links(assist, agent, sandbox):
    rc2 = sandbox / "etc" / "rc2.d"
    assert assist.disable()["changes"] == {"enabled": {"old": True, "new": False}}
    assert sorted(os.listdir(rc2)) == ["K50aliyun-service", "S51assist-daemon"]
    assert assist.status()["client"]["enabled"] is False
    assert assist.disable()["changes"] == {}
    assert assist.enable()["changes"] == {"enabled": {"old": False, "new": True}}
    assert (rc2 / "S50aliyun-service").is_symlink()
    assert os.readlink(rc2 / "S50aliyun-service") == "../init.d/aliyun-service"


def test_stop_with_disable_turns_off_start_at_boot(assist, agent):
    ret = assist.stop(disable=True)
    assert ret["changes"]["enabled"] == {"old": True, "new": False}
    assert assist.start(enable=True)["changes"] == {
        "enabled": {"old": False, "new": True},
        "client": {"old": "stopped", "new": "running"},
    }


def test_status_tells_the_truth_when_the_client_is_killed_behind_its_back(assist, agent):
    assist.remove_daemon()
    agent.kill_client()
    assert wait_until(lambda: agent.client_pids() == [])
    assert assist.is_running() is False
    assert assist.status()["client"]["running"] is False


def test_the_log_shows_the_walk_from_detection_to_the_commands_and_each_change(assist, agent, caplog):
    """What `salt-call -l debug assist.stop` shows: debug for each decision and command,
    info for each change made (and nothing of the pillar)."""
    caplog.set_level("DEBUG")
    assist.stop()
    said = [(record.levelname, record.getMessage()) for record in caplog.records if record.getMessage().startswith("assist")]
    debug = [message for level, message in said if level == "DEBUG"]
    info = [message for level, message in said if level == "INFO"]
    assert any(message.startswith("assist: init system sysvinit (/sbin/init contains 'sysvinit')") for message in debug), debug
    assert any(message.startswith("assist: the agent's installation: ") for message in debug), debug
    assert any(message.startswith("assist: stopping the watchdog (assist_daemon --stop): ") for message in debug), debug
    assert any(
        message.startswith("assist: stopping the client: ") and message.endswith("aliyun-service stop") for message in debug
    ), debug
    assert info[:2] == [
        "assist: stopped the watchdog (/usr/local/share/assist-daemon/assist_daemon --stop)",
        "assist: unregistered the watchdog (/usr/local/share/assist-daemon/assist_daemon --delete)",
    ], info
    assert info[-1].startswith("assist: Removed the watchdog, stopped the client: "), info
    assert not any("pillar" in message for _, message in said)

    caplog.clear()
    assist.stop()
    assert [record.levelname for record in caplog.records if record.getMessage().startswith("assist")].count("INFO") == 0
