"""The execution module's own decisions (_modules/assist.py): the audit's drift in words."""

from tests.unit.conftest import assist, configure_loader_modules  # noqa: F401  (the loader mock)
from tests.unit.facts import DEAD, DEFAULT, FROZEN, RUNNING

# --------------------------------------------------------------------------- audit


def test_an_agent_that_follows_its_policy_has_no_drift():
    assert assist._drift(DEFAULT, RUNNING) == []
    assert assist._drift(FROZEN, DEAD) == []


def test_each_difference_is_said_in_words_in_a_fixed_order():
    assert assist._drift(FROZEN, RUNNING, watchdog_running=True) == [
        "client is running, policy says dead",
        "watchdog is running, policy says absent",
        "start at boot is on, policy says off",
    ]
    assert assist._drift(FROZEN, RUNNING) == [
        "client is running, policy says dead",
        "watchdog is installed, policy says absent",
        "start at boot is on, policy says off",
    ]
    assert assist._drift({"client": "running", "daemon": "present", "enable": True}, DEAD) == [
        "client is stopped, policy says running",
        "watchdog is absent, policy says present",
        "start at boot is off, policy says on",
    ]


def test_a_client_its_init_system_will_restart_meets_neither_policy():
    # systemd after a crash: nothing runs now, and the client runs again when the
    # restart is due (the vendor's unit: 120 s).
    pending = dict(DEAD, client="restart pending", enable=True)
    assert assist._drift(dict(FROZEN, enable=None), pending) == [
        "client is down and its init system will restart it, policy says dead",
    ]
    assert assist._drift(dict(DEFAULT, daemon="absent"), pending) == [
        "client is down and its init system will restart it, policy says running",
    ]


def test_an_agent_not_installed_meets_a_dead_policy_and_drifts_from_a_running_one():
    missing = dict(DEAD, client="not installed", version=None)
    assert assist._drift(FROZEN, missing) == []
    assert assist._drift(DEFAULT, missing) == [
        "the agent is not installed, policy says running",
        "watchdog is absent, policy says present",
    ]
    # Nothing can start at boot: a policy that wants it on is told so.
    assert assist._drift(dict(FROZEN, enable=True), missing) == ["start at boot is off, policy says on"]


def test_an_agent_half_installed_drifts_from_every_policy_with_what_is_there():
    half = dict(DEAD, client="half installed", version=None)
    words = "the init script /etc/init.d/aliyun-service runs /usr/local/share/aliyun-assist/2.5.3.650/aliyun-service, which is missing"
    for policy in (FROZEN, DEFAULT):
        assert assist._drift(policy, half, incomplete=words)[0] == f"the agent is half installed: {words}"


def test_enable_null_leaves_start_at_boot_unjudged():
    assert assist._drift(DEFAULT, dict(RUNNING, enable=False)) == []
    assert assist._drift(DEFAULT, dict(RUNNING, enable=True)) == []


def test_windows_has_no_watchdog_to_judge():
    assert assist._drift(DEFAULT, dict(RUNNING, daemon="absent", init_system="windows"), watchdog=False) == []
