"""The assist module on a Windows minion: Salt 3007.16 for Windows (salt-call --local,
its own win_service and pywin32) on python.org's CPython 3.11 under Wine, against Wine's
real service control manager and the vendor's own Windows agent as AliyunService, in
place of the stand-in (pywin32's pythonservice.exe) this tier ran before: built from the
source the project keeps and installed by its own --install (vendor_agent.py). The
project is the wheel, installed by pip, found through its salt.loader entry point.

Each outcome is checked against the service manager's own view, read by other
processes: Wine's `sc query` for the state, the service's Start value in the registry
(`reg query`) for the start type. Not Windows itself: Wine's service manager, two
test-only patches for Wine's gaps in the Windows Python (guest/wine_gaps.py: delayed
auto start, WMI grains), and one in the agent's build: under Wine every process counts
as interactive, so the unpatched agent never tells the service manager it runs
(tests/system/aliyun-assist/wine-interactive-session.patch).

The tests run in file order on one machine; test_without_the_agent.py, last, removes
the agent with its own --remove.
"""

import json
import re

import pytest

from tests.unit.utils.test_assist_windows import RECORDED, RECORDED_AFTER
from tests.windows import vendor_agent
from tests.windows.conftest import SERVICE_KEY

SERVICE = "AliyunService"
WARNING = "may no longer be stoppable from the ECS console"


def test_a_fresh_salt_call_loads_the_module_from_the_installed_wheel(windows):
    """A salt-call of its own, as salt-call.exe runs: the module comes from the wheel
    (file_roots hold only the state tree, and no extension folder is configured), and
    knows it is on Windows."""
    done = windows.salt_fresh("sys.doc", "assist.init_system")
    assert done["code"] == 0, done
    assert "salt '*' assist.init_system" in json.loads(done["stdout"])["local"]["assist.init_system"]
    assert windows.salt_json("assist.init_system") == "windows"


def test_the_service_is_the_vendors_agent_as_its_own_installer_registered_it(windows):
    registered = windows.machine.run(["reg", "query", SERVICE_KEY]).stdout
    assert re.search(r"ImagePath\s+REG_SZ\s+(.+)", registered).group(1).strip() == vendor_agent.PROGRAM
    assert re.search(r"DisplayName\s+REG_SZ\s+(.+)", registered).group(1).strip() == "Aliyun Assist Service"
    assert windows.start_type() == "auto" and windows.state() == "RUNNING"
    assert len(windows.agent_processes()) == 1


def test_status_is_what_the_service_manager_says(windows):
    windows.arrange("RUNNING", "auto")
    status = windows.salt_json("assist.status")
    assert status["init"] == {"system": "windows", "evidence": "the minion runs on Windows"}
    assert status["client"]["service"] == SERVICE
    assert status["client"]["running"] is True and status["client"]["enabled"] is True
    assert status["daemon"] == {"installed": False, "running": False, "pids": [], "path": None}

    windows.arrange("STOPPED", "manual")
    status = windows.salt_json("assist.status")
    assert status["client"]["running"] is False and status["client"]["enabled"] is False
    assert windows.salt_json("assist.is_running") is False


def test_stop_carries_the_vendors_warning_and_a_second_stop_changes_nothing(windows):
    windows.arrange("RUNNING", "auto")
    assert len(windows.agent_processes()) == 1
    ret = windows.salt_json("assist.stop")
    assert ret["changes"] == {"client": {"old": "running", "new": "stopped"}}
    assert WARNING in ret["warning"]
    assert windows.state() == "STOPPED" and windows.start_type() == "auto"
    assert windows.agent_processes() == []
    again = windows.salt_json("assist.stop")
    assert again["changes"] == {} and WARNING in again["warning"]
    assert windows.state() == "STOPPED"


def test_start_and_restart(windows):
    windows.arrange("STOPPED", "auto")
    ret = windows.salt_json("assist.start")
    assert ret["changes"] == {"client": {"old": "stopped", "new": "running"}}
    assert windows.state() == "RUNNING"
    assert windows.salt_json("assist.start")["changes"] == {}
    (before,) = windows.agent_processes()
    ret = windows.salt_json("assist.restart")
    assert ret["changes"] == {"client": {"old": "running", "new": "restarted"}}
    assert windows.state() == "RUNNING"
    # A new process of the agent; the old one is gone.
    (after,) = windows.agent_processes()
    assert after != before


def test_start_at_boot_is_honoured_across_a_reboot(windows):
    windows.arrange("RUNNING", "auto")
    ret = windows.salt_json("assist.disable")
    assert ret["changes"] == {"enabled": {"old": True, "new": False}}
    assert windows.start_type() == "manual"  # off, but still startable
    assert windows.state() == "RUNNING"  # disable does not stop it
    windows.reboot()
    assert windows.state() == "STOPPED"

    ret = windows.salt_json("assist.enable")
    assert ret["changes"] == {"enabled": {"old": False, "new": True}}
    assert windows.start_type() == "auto"
    windows.reboot()
    windows.wait_for("RUNNING")
    assert windows.salt_json("assist.status")["client"]["running"] is True


def test_start_after_disable_keeps_start_at_boot_off(windows):
    windows.arrange("RUNNING", "auto")
    windows.salt_json("assist.stop", "disable=True")
    assert windows.start_type() == "manual"
    ret = windows.salt_json("assist.start")
    assert ret["changes"] == {"client": {"old": "stopped", "new": "running"}}
    assert windows.state() == "RUNNING" and windows.start_type() == "manual"


def test_start_of_a_service_disabled_by_hand_sets_manual_and_says_so(windows):
    """Disabled by someone else (Salt's own service.disable): Windows starts no Disabled
    service, so the start sets Manual, and its changes say so."""
    windows.arrange("STOPPED", "disabled")
    predicted = windows.salt_json("assist.start", "test=True")
    assert predicted["changes"]["start_type"] == {"old": "disabled", "new": "manual"}
    assert windows.state() == "STOPPED" and windows.start_type() == "disabled"
    ret = windows.salt_json("assist.start")
    assert ret["changes"] == {"start_type": {"old": "disabled", "new": "manual"}, "client": {"old": "stopped", "new": "running"}}
    assert "Disabled to Manual (start at boot stays off)" in ret["comment"]
    assert windows.state() == "RUNNING" and windows.start_type() == "manual"


def test_the_frozen_policy_audited_then_applied_twice(windows):
    """pillar/top.sls gives the minion the frozen group by its grain: client dead, start
    at boot off (Windows has no watchdog to remove)."""
    windows.arrange("RUNNING", "auto")
    done = windows.salt("assist.audit")
    assert done["code"] == 1  # drift: salt-call exits non-zero
    audit = json.loads(done["stdout"])["local"]
    assert audit["policy"] == {"client": "dead", "daemon": "absent", "enable": False}
    assert audit["drift"] == ["client is running, policy says dead", "start at boot is on, policy says off"]

    first = windows.salt("state.apply", "assist")
    assert first["code"] == 0, first
    states = json.loads(first["stdout"])["local"]
    assert all(state["result"] is True for state in states.values()), states
    changes = {}
    for state in states.values():
        changes.update(state["changes"])
    assert changes == {"client": {"old": "running", "new": "stopped"}, "enabled": {"old": True, "new": False}}
    assert windows.state() == "STOPPED" and windows.start_type() == "manual"

    second = windows.salt("state.apply", "assist")
    assert second["code"] == 0, second
    assert all(state["result"] is True and state["changes"] == {} for state in json.loads(second["stdout"])["local"].values())
    assert windows.salt_json("assist.audit")["result"] is True
    assert windows.state() == "STOPPED" and windows.start_type() == "manual"


MISSING = "the Windows service NoSuchService does not exist (assist:lookup:windows_service)"


@pytest.mark.parametrize(
    "verb, step", [("start", "starting the client"), ("restart", "restarting the client"), ("enable", "turning start at boot on")]
)
def test_a_service_that_does_not_exist_fails_what_needs_it_with_a_clear_error(windows, verb, step):
    done = windows.salt(f"assist.{verb}", config="missing")
    assert done["code"] == 1 and done["stdout"].strip() == ""
    assert done["stderr"].startswith(
        f"Error running 'assist.{verb}': {step} failed: the Cloud Assistant agent is not installed: {MISSING}"
    ), done
    assert "Traceback" not in done["stderr"]
    assert windows.state("NoSuchService") is None


def test_a_service_that_does_not_exist_is_the_agent_not_installed(windows):
    client = windows.salt_json("assist.status", config="missing")["client"]
    assert (client["installed"], client["running"], client["enabled"]) == (False, False, False)
    assert windows.salt_json("assist.is_running", config="missing") is False
    for verb in ("stop", "disable"):
        done = windows.salt_json(f"assist.{verb}", config="missing")
        assert done["changes"] == {} and done["comment"].startswith(f"The agent is not installed ({MISSING}"), done
    assert windows.state("NoSuchService") is None


def test_a_service_that_does_not_exist_in_a_fresh_salt_call(windows):
    done = windows.salt_fresh("assist.start", config="missing")
    assert done["code"] == 1
    assert "NoSuchService does not exist (assist:lookup:windows_service)" in done["stderr"]
    assert "Traceback" not in done["stderr"]


def test_salts_win_service_answers_as_the_unit_doubles_assume(windows):
    """Salt's real win_service, asked what tests/unit/utils/test_assist_windows.py's doubles answer."""
    for args, before, answer in RECORDED:
        if before != "missing":
            running, start_type = before
            windows.arrange("RUNNING" if running else "STOPPED", start_type.lower())
        done = windows.salt(*args)
        got = json.loads(done["stdout"])["local"] if done["code"] == 0 else ("error", done["stderr"].split(": ", 1)[1].strip())
        assert got == answer, args
        if tuple(args) in RECORDED_AFTER:
            running, start_type = RECORDED_AFTER[tuple(args)]
            assert (windows.state(), windows.start_type()) == ("RUNNING" if running else "STOPPED", start_type.lower()), args
