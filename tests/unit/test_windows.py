"""Windows: the client is the service AliyunService, driven through Salt's service.*.

These use test doubles of service.* because no Windows service manager runs here; they
check the module's decisions (what it calls, what it reports), not Windows itself.
"""

from unittest import mock

import pytest
from salt.exceptions import CommandExecutionError

from tests.unit.conftest import assist


class FakeServices:
    """A tiny stand-in for Windows' service control manager."""

    def __init__(self, running=True, enabled=True, installed=True):
        self.running, self.enabled, self.installed, self.calls = running, enabled, installed, []

    def functions(self):
        def act(name, attr, value):
            self.calls.append((name, attr, value))
            setattr(self, attr, value)
            return True

        return {
            "service.available": lambda name: self.installed,
            "service.status": lambda name: self.running,
            "service.enabled": lambda name: self.enabled,
            "service.stop": lambda name: act(name, "running", False),
            "service.start": lambda name: act(name, "running", True),
            "service.restart": lambda name: act(name, "running", True),
            "service.enable": lambda name: act(name, "enabled", True),
            "service.disable": lambda name: act(name, "enabled", False),
        }


@pytest.fixture
def services():
    return FakeServices()


@pytest.fixture
def configure_loader_modules(services, tmp_path):
    return {
        assist: {
            "__salt__": services.functions(),
            "__opts__": {"cachedir": str(tmp_path)},
            "__grains__": {},
            "__pillar__": {},
            "__context__": {},
        }
    }


@pytest.fixture(autouse=True)
def on_windows():
    with mock.patch("salt.utils.platform.is_windows", return_value=True):
        yield


def test_status_reports_the_windows_service_and_no_watchdog(services):
    status = assist.status()
    assert status["init"]["system"] == "windows"
    assert status["client"]["service"] == "AliyunService"
    assert status["client"]["running"] is True and status["client"]["enabled"] is True
    assert status["daemon"] == {"installed": False, "running": False, "pids": [], "path": None}


def test_stop_stops_the_service_and_carries_the_vendors_warning(services):
    ret = assist.stop()
    assert services.calls == [("AliyunService", "running", False)]
    assert ret["changes"] == {"client": {"old": "running", "new": "stopped"}}
    assert "may no longer be stoppable from the ECS console" in ret["warning"]


def test_stop_when_stopped_changes_nothing(services):
    services.running = False
    ret = assist.stop()
    assert ret["changes"] == {} and services.calls == []


def test_stop_with_disable_turns_off_start_at_boot(services):
    ret = assist.stop(disable=True)
    assert services.enabled is False
    assert ret["changes"]["enabled"] == {"old": True, "new": False}


def test_start_and_enable(services):
    services.running, services.enabled = False, False
    ret = assist.start(enable=True)
    assert services.running and services.enabled
    assert set(ret["changes"]) == {"client", "enabled"}


def test_a_failing_service_call_is_an_error(services, configure_loader_modules):
    assist.__salt__["service.stop"] = lambda name: False
    with pytest.raises(CommandExecutionError, match="stopping AliyunService failed: Salt's service.stop returned False"):
        assist.stop()


def test_without_the_service_the_agent_is_not_installed_and_start_names_what_to_install(services):
    services.installed = False
    client = assist.status()["client"]
    assert (client["installed"], client["incomplete"], client["running"], client["enabled"]) == (False, None, False, False)
    # Nothing is stopped, so there is no warning to give.
    assert assist.stop() == {
        "comment": "The agent is not installed (the service AliyunService (assist:lookup:windows_service) is missing): "
        "no client to stop",
        "changes": {},
    }
    with pytest.raises(CommandExecutionError, match=r"starting the client failed: the Cloud Assistant agent is not installed: the service AliyunService"):
        assist.start()
    assert services.calls == []
