"""The state module's own decisions (_states/assist.py), over the real execution module
on a systemd minion whose commands are recorded (tests/unit/recorder.py): start at boot
first, what a failure part way had changed, test mode's None only where something would
change, and what a watch does."""

import shutil

import pytest

from tests.conftest import REPO, load_source
from tests.unit.conftest import assist
from tests.unit.recorder import SHOW, SYSTEMD_ACTIVE, SYSTEMD_STOPPED, install_watchdog

states = load_source("assist_states", REPO / "_states" / "assist.py")

# Stopped, and started at boot.
SYSTEMD_STOPPED_ON_AT_BOOT = {**SYSTEMD_STOPPED, ("systemctl", "is-enabled"): (0, "enabled\n")}


@pytest.fixture
def configure_loader_modules(configure_loader_modules):
    """The execution module as tests/unit/conftest.py sets it up; the state module calls
    its functions as Salt's loader would give them."""
    verbs = ("daemon_status", "remove_daemon", "stop", "start", "restart", "enable", "disable")
    functions = {f"assist.{verb}": getattr(assist, verb) for verb in verbs}
    return {**configure_loader_modules, states: {"__salt__": functions, "__opts__": {"test": False}}}


def test_a_running_state_sets_start_at_boot_first_and_a_refusal_there_leaves_the_client_stopped(systemd, record):
    recorder = record({**SYSTEMD_STOPPED_ON_AT_BOOT, ("systemctl", "disable"): (1, "Access denied")})
    ret = states.running("assist-client-running", enable=False)
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == (
        "systemctl disable failed: `systemctl disable aliyun.service` exited 1: Access denied. Start at boot is on, as it was."
    )
    assert "systemctl start aliyun.service" not in recorder.commands()


def test_a_state_that_fails_after_an_earlier_call_changed_something_reports_that_change(systemd, record):
    # Start at boot is turned on; the start that follows never takes.
    record(SYSTEMD_STOPPED, after={("systemctl", "enable"): SYSTEMD_STOPPED_ON_AT_BOOT})
    ret = states.running("assist-client-running", enable=True)
    assert ret["result"] is False
    assert ret["changes"] == {"enabled": {"old": False, "new": True}}
    assert ret["comment"].split("\n") == [
        "Turned start at boot on",
        "starting the client failed: `systemctl start aliyun.service` succeeded but the client is not running 0.2 s later",
    ]


def test_a_dead_state_whose_stop_fails_after_the_watchdog_went_reports_the_removal(systemd, record):
    # The client stays up (something restarts it): the watchdog is gone all the same.
    install_watchdog(systemd)
    record(SYSTEMD_ACTIVE)
    ret = states.dead("assist-client-dead", remove_daemon=True)
    assert ret["result"] is False
    assert ret["changes"] == {"daemon": {"old": "installed", "new": "absent"}}
    assert ret["comment"].startswith(
        "stopping the client failed: it is still running 0.2 s after `systemctl stop aliyun.service`"
    )
    assert ret["comment"].endswith("Changed before that: removed the watchdog.")
    assert not systemd.exists()


def test_test_mode_says_none_only_where_something_would_change(systemd, record):
    install_watchdog(systemd)
    recorder = record(SYSTEMD_ACTIVE)
    states.__opts__["test"] = True
    predicted = states.dead("assist-client-dead", remove_daemon=True)
    assert predicted == {
        "name": "assist-client-dead",
        "result": None,
        "changes": {"daemon": {"old": "installed", "new": "absent"}, "client": {"old": "running", "new": "stopped"}},
        "comment": "Would remove the watchdog, stop the client",
    }
    assert set(recorder.commands()) == {SHOW} and systemd.exists()
    shutil.rmtree(systemd)  # no watchdog, and the client stopped: nothing would change
    record(SYSTEMD_STOPPED)
    assert states.dead("assist-client-dead", remove_daemon=True) == {
        "name": "assist-client-dead",
        "result": True,
        "changes": {},
        "comment": "The client is stopped; nothing to do",
    }


def test_a_watched_dead_state_removes_the_watchdog_it_is_told_to_and_stops_the_client(systemd, record):
    install_watchdog(systemd)
    recorder = record(
        SYSTEMD_ACTIVE,
        after={
            ("systemctl", "disable"): {("systemctl", "is-enabled"): (1, "disabled\n")},
            ("systemctl", "stop"): SYSTEMD_STOPPED,
        },
    )
    ret = states.mod_watch("assist-client-dead", sfun="dead", remove_daemon=True, enable=False)
    assert ret["result"] is True
    assert ret["changes"] == {
        "enabled": {"old": True, "new": False},
        "daemon": {"old": "installed", "new": "absent"},
        "client": {"old": "running", "new": "stopped"},
    }
    commands = recorder.commands()
    assert (
        commands.index("systemctl disable aliyun.service")
        < commands.index("assist_daemon --stop")
        < commands.index("systemctl stop aliyun.service")
    )


def test_a_watch_on_a_state_that_has_none_is_refused_in_words_and_runs_nothing(systemd, record):
    recorder = record(SYSTEMD_ACTIVE)
    assert states.mod_watch("assist-daemon-absent", sfun="daemon_absent") == {
        "name": "assist-daemon-absent",
        "result": False,
        "changes": {},
        "comment": "assist.daemon_absent does not support watch; use it with assist.running or assist.dead",
    }
    assert recorder.calls == []
