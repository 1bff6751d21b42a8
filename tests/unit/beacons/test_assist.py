"""The beacon (_beacons/assist.py), its pure parts: the change-only rule with its
reminder, its configuration, the pause grain."""

import pytest

from tests.conftest import REPO, load_source

beacon = load_source("assist_beacon", REPO / "_beacons" / "assist.py")


@pytest.fixture
def configure_loader_modules(tmp_path):
    return {beacon: {"__opts__": {"cachedir": str(tmp_path)}}}


DRIFT = ["drift", "client is running, policy says dead"]


def test_the_beacon_fires_once_per_change_of_drift():
    event, memory = beacon.decide(None, DRIFT, 100.0, 3600)
    assert event == "drift"
    assert beacon.decide(memory, DRIFT, 160.0, 3600) == (None, None)
    other = ["drift", "watchdog is installed, policy says absent"]
    event, memory = beacon.decide(memory, other, 220.0, 3600)
    assert event == "drift" and memory["seen"] == other
    event, memory = beacon.decide(memory, ["compliant"], 280.0, 3600)
    assert event == "compliant"
    assert beacon.decide(memory, ["compliant"], 9999.0, 3600) == (None, None)


def test_a_compliant_start_is_silent():
    event, memory = beacon.decide(None, ["compliant"], 1.0, 3600)
    assert event is None and memory["seen"] == ["compliant"]


def test_a_lasting_drift_or_error_is_reminded_slowly():
    _, memory = beacon.decide(None, DRIFT, 0.0, 600)
    assert beacon.decide(memory, DRIFT, 599.0, 600) == (None, None)
    event, memory = beacon.decide(memory, DRIFT, 600.0, 600)
    assert event == "drift" and memory == {"seen": DRIFT, "at": 600.0, "reminder": True}
    assert beacon.decide(memory, DRIFT, 1000.0, 600) == (None, None)
    error = ["error", 'pillar assist:client is "stopped"; use running or dead']
    _, memory = beacon.decide(None, error, 0.0, 600)
    assert beacon.decide(memory, error, 700.0, 600)[0] == "error"


def test_reminder_zero_never_reminds():
    _, memory = beacon.decide(None, DRIFT, 0.0, 0)
    assert beacon.decide(memory, DRIFT, 1e9, 0) == (None, None)


@pytest.mark.parametrize(
    "config, named",
    [
        ({"interval": 60}, "must be a list of mappings"),
        ([{"interval": 60}, {"remind": 10}], "unknown key(s) remind"),
        ([{"interval": 0}], "interval is 0"),
        ([{"interval": "60"}], "interval is '60'"),
        ([{"reminder": -1}], "reminder is -1"),
        ([{"reminder": True}], "reminder is True"),
    ],
)
def test_a_bad_beacon_configuration_is_refused_naming_the_key(config, named):
    valid, message = beacon.validate(config)
    assert valid is False and named in message


def test_the_documented_beacon_configurations_are_valid():
    assert beacon.validate([{"interval": 60}]) == (True, "Valid beacon configuration")
    assert beacon.validate([{"interval": 60}, {"reminder": 0}, {"disable_during_state_run": True}])[0] is True
    assert beacon.validate([{"interval": 5}, {"reminder": 600}, {"_beacon_name": "assist"}])[0] is True


@pytest.mark.parametrize(
    "value, paused", [(True, True), ("true", True), ("True", True), (False, False), (None, False), ("no", False)]
)
def test_the_pause_grain(value, paused):
    assert beacon.paused({"assist_paused": value} if value is not None else {}) is paused
