"""The vendor's agent removed by its own `--remove` (after its own `--stop`), as its
uninstaller does: AliyunService is gone from Wine's service control manager, and the
module says the agent is not installed. Runs after test_service.py, on its machine."""

from tests.windows import vendor_agent

NOT_INSTALLED = "The agent is not installed (the Windows service AliyunService does not exist"


def test_after_the_vendors_own_remove_the_agent_is_not_installed(windows):
    windows.arrange("RUNNING", "auto")
    vendor_agent.run_flag(windows.machine, "--stop")
    vendor_agent.run_flag(windows.machine, "--remove")
    assert windows.state() is None  # sc query: no such service
    assert windows.agent_processes() == []

    client = windows.salt_json("assist.status")["client"]
    assert (client["installed"], client["running"], client["enabled"]) == (False, False, False)
    for verb in ("stop", "disable"):
        done = windows.salt_json(f"assist.{verb}")
        assert done["changes"] == {} and done["comment"].startswith(NOT_INSTALLED), done
    # The frozen policy (client dead) is met where nothing can run.
    assert windows.salt_json("assist.audit")["result"] is True
    done = windows.salt("assist.start")
    assert done["code"] == 1 and "Traceback" not in done["stderr"]
    assert "the Cloud Assistant agent is not installed: the Windows service AliyunService does not exist" in done["stderr"]
    assert windows.state() is None
