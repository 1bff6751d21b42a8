"""The pillar policy and the audit's judgement (_utils/assist_policy.py): a bad value
names its pillar key; each difference between the policy and the agent's facts is said
in words, in a fixed order."""

import re

import yaml

from tests.conftest import REPO
from tests.unit.conftest import assist_policy
from tests.unit.facts import DEAD, DEFAULT, FROZEN, RUNNING


def test_an_agent_that_follows_its_policy_has_no_drift():
    assert assist_policy.drift(DEFAULT, RUNNING) == []
    assert assist_policy.drift(FROZEN, DEAD) == []


def test_each_difference_is_said_in_words_in_a_fixed_order():
    assert assist_policy.drift(FROZEN, RUNNING, watchdog_running=True) == [
        "client is running, policy says dead",
        "watchdog is running, policy says absent",
        "start at boot is on, policy says off",
    ]
    assert assist_policy.drift(FROZEN, RUNNING) == [
        "client is running, policy says dead",
        "watchdog is installed, policy says absent",
        "start at boot is on, policy says off",
    ]
    assert assist_policy.drift({"client": "running", "daemon": "present", "enable": True}, DEAD) == [
        "client is stopped, policy says running",
        "watchdog is absent, policy says present",
        "start at boot is off, policy says on",
    ]


def test_a_client_its_init_system_will_restart_meets_neither_policy():
    # systemd after a crash: nothing runs now, and the client runs again when the
    # restart is due (the vendor's unit: 120 s).
    pending = dict(DEAD, client="restart pending", enable=True)
    assert assist_policy.drift(dict(FROZEN, enable=None), pending) == [
        "client is down and its init system will restart it, policy says dead",
    ]
    assert assist_policy.drift(dict(DEFAULT, daemon="absent"), pending) == [
        "client is down and its init system will restart it, policy says running",
    ]


def test_an_agent_not_installed_meets_a_dead_policy_and_drifts_from_a_running_one():
    missing = dict(DEAD, client="not installed", version=None)
    assert assist_policy.drift(FROZEN, missing) == []
    assert assist_policy.drift(DEFAULT, missing) == [
        "the agent is not installed, policy says running",
        "watchdog is absent, policy says present",
    ]
    # Nothing can start at boot: a policy that wants it on is told so.
    assert assist_policy.drift(dict(FROZEN, enable=True), missing) == ["start at boot is off, policy says on"]


def test_an_agent_half_installed_drifts_from_every_policy_with_what_is_there():
    half = dict(DEAD, client="half installed", version=None)
    words = "the init script /etc/init.d/aliyun-service runs /usr/local/share/aliyun-assist/2.5.3.650/aliyun-service, which is missing"
    for policy in (FROZEN, DEFAULT):
        assert assist_policy.drift(policy, half, incomplete=words)[0] == f"the agent is half installed: {words}"


def test_enable_null_leaves_start_at_boot_unjudged():
    assert assist_policy.drift(DEFAULT, dict(RUNNING, enable=False)) == []
    assert assist_policy.drift(DEFAULT, dict(RUNNING, enable=True)) == []


def test_windows_has_no_watchdog_to_judge():
    assert assist_policy.drift(DEFAULT, dict(RUNNING, daemon="absent", init_system="windows"), watchdog=False) == []


def shown_values(cell):
    """A cell of the policy page's table as values: `running` is "running", `true` is True,
    "left out" is None."""
    values = [yaml.safe_load(value) for value in re.findall(r"`([^`]*)`", cell)]
    return values + [None] * ("left out" in cell)


def test_the_policy_page_lists_every_key_its_values_and_default():
    rows = re.findall(r"^\| `assist:(\w+)` \| (.*) \| (.*) \|$", (REPO / "docs" / "policy.md").read_text(), re.M)
    shown = {key: (shown_values(values), shown_values(default)) for key, values, default in rows}
    assert shown == {key: (list(allowed), [default]) for key, (default, allowed, _) in assist_policy.POLICY.items()}


def test_pillar_example_shows_the_policys_keys_and_they_pass_the_check():
    policy = yaml.safe_load((REPO / "pillar.example").read_text())["assist"]
    assert set(policy) - {"lookup"} == set(assist_policy.POLICY)
    assert assist_policy.check(policy)["client"] == policy["client"]
