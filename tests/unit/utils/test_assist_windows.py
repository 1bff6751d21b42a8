"""The Windows backend (Windows): the client is the service AliyunService, driven through
Salt's service.*.

These use doubles of Salt's win_service (no Windows here): they check the module's
decisions (what it calls, what it reports). The doubles answer as the real module does:
RECORDED holds what Salt 3007.16's win_service answered under Wine's service control
manager, and the windows tier (tests/windows/test_service.py) asks the real module the
same questions and holds it to this table, so a double that drifts from Salt fails there.
"""

from unittest import mock

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.refusals import refusal
from tests.unit.conftest import assist, assist_init

# (call, how the service is before it, what Salt's win_service answered): the answer,
# or ("error", message) for a CommandExecutionError. States: "missing", or
# (running, start type).
RECORDED = [
    (("service.status", "NoSuchService"), "missing", "Not Found"),
    (("service.available", "NoSuchService"), "missing", False),
    (("service.enabled", "NoSuchService"), "missing", ("error", "Failed To Open NoSuchService: Service does not exist.")),
    (("service.start", "NoSuchService"), "missing", ("error", "Failed To Open NoSuchService: Service does not exist.")),
    (("service.stop", "NoSuchService"), "missing", ("error", "Failed To Stop NoSuchService: Service does not exist.")),
    (("service.status", "AliyunService"), (True, "Auto"), True),
    (("service.status", "AliyunService"), (False, "Auto"), False),
    (("service.available", "AliyunService"), (False, "Auto"), True),
    (("service.enabled", "AliyunService"), (False, "Auto"), True),
    (("service.enabled", "AliyunService"), (False, "Manual"), False),
    (("service.enabled", "AliyunService"), (False, "Disabled"), False),
    (("service.disabled", "AliyunService"), (False, "Manual"), True),
    (("service.disable", "AliyunService"), (False, "Auto"), True),
    (("service.enable", "AliyunService", "start_type=manual"), (False, "Auto"), True),
    (("service.start", "AliyunService"), (False, "Disabled"), True),
    (("service.stop", "AliyunService"), (False, "Manual"), True),
]
# What those calls left behind, where they changed something: (running, start type).
RECORDED_AFTER = {
    ("service.disable", "AliyunService"): (False, "Disabled"),
    ("service.enable", "AliyunService", "start_type=manual"): (False, "Manual"),
    # Salt's service.start switches a Disabled service to Manual before it starts it.
    ("service.start", "AliyunService"): (True, "Manual"),
}


class FakeServices:
    """Salt's win_service over a stand-in service manager with one service in it."""

    def __init__(self, running=True, start_type="Auto", exists=True, name="AliyunService"):
        self.running, self.start_type, self.exists, self.name = running, start_type, exists, name
        self.calls = []

    def _open(self, name, failure="Failed To Open"):
        if not self.exists or name != self.name:
            raise CommandExecutionError(f"{failure} {name}: Service does not exist.")

    def status(self, name):
        return self.running if self.exists and name == self.name else "Not Found"

    def available(self, name):
        return self.exists and name == self.name

    exit_code = 0  # Status_ExitCode: 1067 after a crash (ERROR_PROCESS_ABORTED)

    def info(self, name):
        self._open(name)
        return {
            "StartType": self.start_type,
            "Status": "Running" if self.running else "Stopped",
            "Status_ExitCode": self.exit_code,
        }

    def enabled(self, name):
        return self.info(name)["StartType"] == "Auto"

    def disabled(self, name):
        return not self.enabled(name)

    def modify(self, name, start_type=None):
        self._open(name)
        self.calls.append(("modify", start_type))
        self.start_type = start_type.capitalize()
        return {"StartType": self.start_type}

    def enable(self, name, start_type="auto"):
        self.modify(name, start_type=start_type)
        return self.start_type.lower() == start_type.lower()

    def disable(self, name):
        self.modify(name, start_type="disabled")
        return True

    def start(self, name):
        if self.info(name)["StartType"] == "Disabled":  # as Salt does: Manual first
            self.modify(name, start_type="manual")
        self.calls.append(("start", name))
        self.running = True
        return True

    def stop(self, name):
        self._open(name, "Failed To Stop")
        self.calls.append(("stop", name))
        self.running = False
        return True

    def restart(self, name):
        return self.stop(name) and self.start(name)

    def functions(self):
        verbs = ("status", "available", "info", "enabled", "disabled", "modify", "enable", "disable", "start", "stop", "restart")
        return {f"service.{verb}": getattr(self, verb) for verb in verbs}


def call(functions, args):
    """One RECORDED call: its answer, or ("error", message)."""
    name, *rest = args
    kwargs = dict(arg.split("=", 1) for arg in rest if "=" in arg)
    try:
        return functions[name](*[arg for arg in rest if "=" not in arg], **kwargs)
    except CommandExecutionError as exc:
        return ("error", str(exc))


def double_in(state):
    if state == "missing":
        return FakeServices(exists=False)
    running, start_type = state
    return FakeServices(running=running, start_type=start_type)


@pytest.mark.parametrize("args, state, answer", RECORDED, ids=[" ".join(args) for args, _, _ in RECORDED])
def test_the_doubles_answer_as_salts_win_service_did(args, state, answer):
    services = double_in(state)
    assert call(services.functions(), args) == answer
    if tuple(args) in RECORDED_AFTER:
        assert (services.running, services.start_type) == RECORDED_AFTER[tuple(args)]


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
    assert services.calls == [("stop", "AliyunService")]
    assert ret["changes"] == {"client": {"old": "running", "new": "stopped"}}
    assert "may no longer be stoppable from the ECS console" in ret["warning"]


def test_stop_when_stopped_changes_nothing(services):
    services.running = False
    ret = assist.stop()
    assert ret["changes"] == {} and services.calls == []


def test_start_at_boot_off_is_manual_not_disabled(services):
    """Disabled would keep anything, the vendor's tools included, from starting it."""
    ret = assist.stop(disable=True)
    assert services.start_type == "Manual"
    assert ret["changes"]["enabled"] == {"old": True, "new": False}


def test_a_disabled_service_counts_as_off_and_disable_leaves_it(services):
    services.start_type = "Disabled"
    assert assist.status()["client"]["enabled"] is False
    assert assist.disable()["changes"] == {}
    assert services.start_type == "Disabled" and services.calls == []


def test_start_and_enable(services):
    services.running, services.start_type = False, "Manual"
    ret = assist.start(enable=True)
    assert services.running and services.start_type == "Auto"
    assert set(ret["changes"]) == {"client", "enabled"}


def test_start_after_disable_keeps_start_at_boot_off(services):
    assist.stop(disable=True)
    ret = assist.start()
    assert services.running and services.start_type == "Manual"
    assert ret["changes"] == {"client": {"old": "stopped", "new": "running"}}


@pytest.mark.parametrize("verb", ["start", "restart"])
def test_starting_a_disabled_service_sets_manual_and_says_so(services, verb):
    """Windows starts no Disabled service; Salt's service.start would switch it to
    Manual without a word. The module does it itself and reports it."""
    services.running, services.start_type = False, "Disabled"
    ret = getattr(assist, verb)()
    assert services.running and services.start_type == "Manual"
    assert ret["changes"]["start_type"] == {"old": "disabled", "new": "manual"}
    assert "Disabled to Manual" in ret["comment"]


def test_start_of_a_disabled_service_in_test_mode_predicts_and_changes_nothing(services):
    services.running, services.start_type = False, "Disabled"
    ret = assist.start(test=True)
    assert ret["changes"]["start_type"] == {"old": "disabled", "new": "manual"}
    assert services.start_type == "Disabled" and services.calls == []


MISSING = (
    "the Windows service AliyunService does not exist (assist:lookup:windows_service); if the agent's service has "
    "another name, set assist:lookup:windows_service to it (the vendor's is AliyunService)"
)


@pytest.mark.parametrize(
    "verb, step", [("start", "starting the client"), ("restart", "restarting the client"), ("enable", "turning start at boot on")]
)
def test_without_the_service_start_restart_and_enable_fail_naming_the_setting_and_what_to_install(services, verb, step):
    """Salt's service.status answers "Not Found" for it: a true string, never running."""
    services.exists = False
    said = refusal(getattr(assist, verb))
    assert said.startswith(f"{step} failed: the Cloud Assistant agent is not installed: {MISSING}. Install")
    assert said.endswith("Nothing was changed.")
    assert services.calls == []


def test_without_the_service_the_agent_is_not_installed_and_what_needs_none_succeeds(services):
    services.exists = False
    client = assist.status()["client"]
    assert (client["installed"], client["incomplete"], client["running"], client["enabled"]) == (False, None, False, False)
    assert assist.is_running() is False
    # Nothing is stopped, so there is no warning to give.
    assert assist.stop() == {"comment": f"The agent is not installed ({MISSING}): no client to stop", "changes": {}}
    assert assist.disable() == {"comment": f"The agent is not installed ({MISSING}): nothing starts at boot", "changes": {}}
    assist.__pillar__["assist"] = {"client": "dead", "daemon": "absent", "enable": False}
    assert assist.audit()["result"] is True and assist.audit()["agent"]["client"] == "not installed"
    assert services.calls == []


def test_a_service_gone_after_the_check_is_not_running(services, configure_loader_modules):
    """Between service.available and service.status (deleted meanwhile)."""
    assist.__salt__["service.available"] = lambda name: True
    services.exists = False
    with pytest.raises(CommandExecutionError, match="AliyunService does not exist"):
        assist.is_running()


def test_a_failing_service_call_is_an_error(services, configure_loader_modules):
    assist.__salt__["service.stop"] = lambda name: False
    with pytest.raises(CommandExecutionError, match="stopping AliyunService failed: Salt's service.stop returned False"):
        assist.stop()


# ------------------------------------------------------------------ recovery actions
# Wine 8.0 neither stores recovery actions nor restarts a crashed service (and says
# RUNNING for a killed one): these hold the decisions to Microsoft's documentation
# (docs/windows.md names it). SERVICE_FAILURE_ACTIONS: a failure is a process that ends
# without reporting SERVICE_STOPPED (its exit code ERROR_PROCESS_ABORTED, 1067); the
# Nth failure takes action N, the last one repeating. StartService refuses a Disabled
# service (ERROR_SERVICE_DISABLED); ControlService cannot stop a stopped one.

VENDORS_ACTIONS = {"ResetPeriod": 86400, "RebootMsg": None, "Command": None, "Actions": ((1, 180000), (1, 180000), (1, 10800000))}


class FakePywin32:
    """pywin32's win32service and pywintypes, as far as the backend asks them."""

    SC_MANAGER_CONNECT, SERVICE_QUERY_CONFIG, SERVICE_CONFIG_FAILURE_ACTIONS = 1, 1, 2

    class error(Exception):  # noqa: N801  pywintypes.error
        def __init__(self, winerror, funcname, strerror):
            super().__init__(winerror, funcname, strerror)
            self.winerror, self.funcname, self.strerror = winerror, funcname, strerror

    def __init__(self, answer):
        self.answer = answer
        self.asked = []

    def OpenSCManager(self, *args):  # noqa: N802
        return "manager"

    def OpenService(self, manager, name, access):  # noqa: N802
        self.asked.append(name)
        return "service"

    def CloseServiceHandle(self, handle):  # noqa: N802
        pass

    def QueryServiceConfig2(self, handle, level):  # noqa: N802
        assert level == self.SERVICE_CONFIG_FAILURE_ACTIONS
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def pywin32():
    fake = FakePywin32(VENDORS_ACTIONS)
    with mock.patch.dict("sys.modules", {"win32service": fake, "pywintypes": fake}):
        yield fake


def crash(services):
    services.running, services.exit_code = False, 1067


def test_a_crashed_service_with_the_vendors_recovery_is_a_restart_pending(services, pywin32):
    crash(services)
    client = assist.status()["client"]
    assert (client["running"], client["restart_pending"]) == (False, True)
    assert pywin32.asked == ["AliyunService"]


def test_the_recovery_actions_read_as_the_service_manager_holds_them(services, pywin32):
    backend = assist_init.assist_windows.Windows.__new__(assist_init.assist_windows.Windows)
    backend.cfg = {"windows_service": "AliyunService"}
    assert backend.recovery() == {
        "actions": [
            {"action": "restart", "delay_seconds": 180},
            {"action": "restart", "delay_seconds": 180},
            {"action": "restart", "delay_seconds": 10800},
        ],
        "reset_seconds": 86400,
    }
    pywin32.answer = FakePywin32.error(124, "QueryServiceConfig2", "Invalid level.")  # Wine 8.0's answer
    assert backend.recovery() == {"unknown": "the service manager did not say: QueryServiceConfig2: Invalid level. (error 124)"}


@pytest.mark.parametrize(
    "why, change",
    [
        ("stopped cleanly (exit code 0)", lambda services, pywin32: setattr(services, "exit_code", 0)),
        ("no recovery actions", lambda services, pywin32: setattr(pywin32, "answer", dict(VENDORS_ACTIONS, Actions=()))),
        (
            "actions that do not restart",
            lambda services, pywin32: setattr(pywin32, "answer", dict(VENDORS_ACTIONS, Actions=((0, 0),))),
        ),
        ("Disabled, which no start passes", lambda services, pywin32: setattr(services, "start_type", "Disabled")),
        ("the actions unknown (Wine)", lambda services, pywin32: setattr(pywin32, "answer", FakePywin32.error(124, "Q", "x"))),
    ],
)
def test_no_restart_is_pending_when(services, pywin32, why, change):
    crash(services)
    change(services, pywin32)
    client = assist.status()["client"]
    assert (client["running"], client["restart_pending"]) == (False, False), why


def test_the_audit_does_not_call_a_crashed_service_compliant_with_dead(services, pywin32):
    crash(services)
    assist.__pillar__["assist"] = {"client": "dead", "daemon": "absent"}
    audit = assist.audit()
    assert audit["agent"]["client"] == "restart pending"
    assert audit["drift"] == ["client is down and its init system will restart it, policy says dead"]


def test_stop_of_a_crashed_service_sets_disabled_so_the_recovery_cannot_start_it(services, pywin32):
    crash(services)
    predicted = assist.stop(test=True)
    ret = assist.stop()
    # Disabled is start at boot off: the changes say so, in test mode too.
    assert (
        ret["changes"]
        == predicted["changes"]
        == {
            "enabled": {"old": True, "new": False},
            "client": {"old": "restart pending", "new": "stopped"},
        }
    )
    assert ret["comment"] == "Turned start at boot off, stopped the client"
    assert services.calls == [("modify", "disabled")]  # Salt's service.disable
    assert services.start_type == "Disabled" and services.running is False
    assert assist.status()["client"]["restart_pending"] is False
