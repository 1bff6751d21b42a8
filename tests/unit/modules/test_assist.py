"""The execution module's verbs (_modules/assist.py), the same whatever the init system:
the audit over a backend; a restart the init system has pending cancelled
first; a start at boot change read again; a stopped client started, not restarted; a
minion without the agent judged, not failed. Where a verb runs, it runs over a backend
whose commands are recorded (tests/unit/recorder.py)."""

import re

import pytest
from salt.exceptions import CommandExecutionError

from tests.unit.conftest import assist, configure_loader_modules, minion_settings  # noqa: F401  (the loader mock)
from tests.unit.recorder import (
    NO_UNIT,
    SHOW,
    SYSTEMD_ACTIVE,
    SYSTEMD_NO_UNIT,
    SYSTEMD_RESTART_PENDING,
    SYSTEMD_STOPPED,
    install_watchdog,
)

# --------------------------------------------------------------------------- audit


def test_systemd_a_pending_restart_drifts_from_a_dead_policy(systemd, record):
    record(SYSTEMD_RESTART_PENDING)
    assist.__pillar__["assist"] = {"client": "dead", "daemon": "absent", "enable": True}
    audit = assist.audit()
    assert audit["agent"]["client"] == "restart pending"
    assert audit["drift"] == ["client is down and its init system will restart it, policy says dead"]
    assert audit["result"] is False


# --------------------------------------------------------------------------- start, stop and restart


def test_systemd_start_starts_a_client_waiting_to_restart_now(systemd, record):
    recorder = record(SYSTEMD_RESTART_PENDING, after={("systemctl", "start"): SYSTEMD_ACTIVE})
    assert assist.start()["changes"] == {"client": {"old": "stopped", "new": "running"}}
    # systemctl start alone would wait until the restart is due: the stop cancels it.
    assert recorder.commands()[1:3] == ["systemctl stop aliyun.service", "systemctl start aliyun.service"]


def test_systemd_restart_of_a_client_waiting_to_restart_starts_it_now(systemd, record):
    recorder = record(SYSTEMD_RESTART_PENDING, after={("systemctl", "start"): SYSTEMD_ACTIVE})
    assert assist.restart()["changes"] == {"client": {"old": "stopped", "new": "restarted"}}
    assert recorder.commands()[1:3] == ["systemctl stop aliyun.service", "systemctl start aliyun.service"]


def test_systemd_stop_cancels_a_pending_restart(systemd, record):
    recorder = record(SYSTEMD_RESTART_PENDING, after={("systemctl", "stop"): SYSTEMD_STOPPED})
    assert assist.stop(test=True)["changes"] == {"client": {"old": "restart pending", "new": "stopped"}}
    assert "systemctl stop aliyun.service" not in recorder.commands()
    assert assist.stop()["changes"] == {"client": {"old": "restart pending", "new": "stopped"}}
    assert recorder.commands()[-2:] == [
        "systemctl stop aliyun.service",
        SHOW,
    ]
    assert assist.stop()["changes"] == {}


def test_restart_of_a_stopped_client_starts_it(upstart, upstart_version):
    # Real UpStart: `initctl restart` of a stopped job exits 1, "initctl: Unknown instance:".
    recorder = upstart_version("1.13.2", running=False)
    with pytest.raises(CommandExecutionError, match="is not running 0.2 s later"):
        assist.restart()  # the recorder never starts anything: only the command matters here
    commands = recorder.commands()
    assert "initctl start aliyun-service" in commands and "initctl restart aliyun-service" not in commands


# --------------------------------------------------------------------------- start at boot, read again


def test_systemd_a_start_at_boot_change_that_did_not_take_is_an_error_naming_the_command(systemd, record):
    # systemctl disable exits 0, yet is-enabled still says enabled (an alias or a
    # second unit file enables it): the change is not reported as made.
    record(SYSTEMD_ACTIVE)
    with pytest.raises(
        CommandExecutionError,
        match="turning start at boot off did not take: `systemctl disable aliyun.service` succeeded, "
        "but systemd still says start at boot is on",
    ):
        assist.disable()


# --------------------------------------------------------------------------- no agent


def test_systemd_without_the_agent_stop_disable_and_remove_daemon_succeed_and_run_nothing(no_agent, record):
    recorder = record(SYSTEMD_NO_UNIT)
    why = f"The agent is not installed ({NO_UNIT} and the client under {{}} are missing)"
    client_dir = minion_settings()["client_dir"]
    assert assist.stop(disable=True) == {"comment": why.format(client_dir) + ": no client to stop", "changes": {}}
    assert assist.disable() == {"comment": why.format(client_dir) + ": nothing starts at boot", "changes": {}}
    assert assist.remove_daemon() == {"comment": "The watchdog is absent; nothing to do", "changes": {}}
    assert set(recorder.commands()) == {SHOW}


@pytest.mark.parametrize(
    "verb, step",
    [("start", "starting the client"), ("restart", "restarting the client"), ("enable", "turning start at boot on")],
)
def test_systemd_without_the_agent_start_restart_and_enable_fail_naming_the_unit_and_the_package(no_agent, record, verb, step):
    recorder = record(SYSTEMD_NO_UNIT)
    with pytest.raises(
        CommandExecutionError,
        match=rf"^{step} failed: the Cloud Assistant agent is not installed: {re.escape(NO_UNIT)} "
        r"and the client under \S+ are missing. Install the Cloud Assistant agent "
        r"\(the package aliyun-assist on Debian and Ubuntu, aliyun_assist on RHEL, .*Nothing was changed.$",
    ):
        getattr(assist, verb)()
    assert recorder.commands() == [SHOW]


def test_systemd_stop_removes_a_watchdog_left_without_its_client(no_agent, record):
    install_watchdog(no_agent)
    recorder = record(SYSTEMD_NO_UNIT)
    ret = assist.stop()
    assert ret["changes"] == {"daemon": {"old": "installed", "new": "absent"}}
    assert ret["comment"].startswith(f"Removed the watchdog. The agent is not installed ({NO_UNIT}")
    assert recorder.commands() == [SHOW, "assist_daemon --stop", "assist_daemon --delete"]
    assert not no_agent.exists()


def test_systemd_audit_without_the_agent_meets_a_dead_policy_and_drifts_from_a_running_one(no_agent, record):
    record(SYSTEMD_NO_UNIT)
    assist.__pillar__["assist"] = {"client": "dead", "daemon": "absent", "enable": False}
    audit = assist.audit()
    assert (audit["result"], audit["drift"], audit["agent"]["client"]) == (True, [], "not installed")
    assist.__pillar__["assist"] = {}
    assert assist.audit()["drift"] == [
        "the agent is not installed, policy says running",
        "watchdog is absent, policy says present",
    ]
