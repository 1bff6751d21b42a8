"""Minions without the agent, an agent half installed, and a read-only /etc, on real
systemd 252 and UpStart 1.13.2 with the vendor's agent (a mixed fleet: issue 25).

Runs last: test_vendor_agent.py leaves every client running, release 2.2.4.100 installed
(on systemd as aliyun-service.service, as under dash); each test here leaves it so again.
"""

import pytest

from tests.system import vendor_agent
from tests.system.conftest import UPDATE, UPSTART_RELEASE

KINDS = ("systemd", "upstart")
TARGET = "sys-systemd,sys-upstart"
# Where each init system keeps the client's unit or job.
SERVICE_DIR = {"systemd": "/etc/systemd/system", "upstart": "/etc/init"}


@pytest.fixture(scope="module")
def two(boxes):
    return {kind: boxes[kind] for kind in KINDS}


def listing(box):
    return sorted(path.name for path in box.file(SERVICE_DIR[box.init]).iterdir())


def salt(salt_cli, *args):
    return salt_cli.run("-L", *args, minion_tgt=TARGET)


def put_back(box, update_build):
    vendor_agent.reinstall(box.container, box.init, update_build, UPDATE.release, UPSTART_RELEASE.get(box.kind))
    if box.init == "systemd":
        box.unit = box.installed_unit()
    assert box.one_client_runs(), box.kind


def test_a_minion_without_the_agent_is_judged_not_failed(salt_cli, two, update_build):
    for box in two.values():
        vendor_agent.uninstall(box.container, UPDATE.release)
    before = {kind: listing(box) for kind, box in two.items()}

    status = salt(salt_cli, "assist.status").data
    for box in two.values():
        client = status[box.minion_id]["client"]
        assert (client["installed"], client["running"], client["incomplete"]) == (False, False, None), box.kind
    for verb in ("assist.stop", "assist.disable", "assist.remove_daemon"):
        done = salt(salt_cli, verb)
        assert done.returncode == 0, done
        assert all(ret["changes"] == {} for ret in done.data.values()), done
    for verb in ("assist.start", "assist.restart", "assist.enable"):
        done = salt(salt_cli, verb)
        assert done.returncode != 0, done
        for box in two.values():
            said = str(done.data[box.minion_id])
            assert "the Cloud Assistant agent is not installed" in said and "Traceback" not in said, (verb, said)
    # The frozen policy (client dead) is met where nothing is installed.
    highstate = salt(salt_cli, "state.highstate")
    assert highstate.returncode == 0, highstate
    for result in highstate.data.values():
        assert all(state["changes"] == {} and state["result"] is True for state in result.values())
    audit = salt(salt_cli, "assist.audit")
    assert audit.returncode == 0 and all(ret["agent"]["client"] == "not installed" for ret in audit.data.values()), audit
    assert {kind: listing(box) for kind, box in two.items()} == before


def test_a_watchdog_left_without_its_client_is_removed_by_stop(salt_cli, two, update_build):
    for box in two.values():
        box.install_watchdog()
        service = (
            ["systemctl", "start", "AssistDaemon.service"]
            if box.init == "systemd"
            else ["/sbin/initctl", "start", "assist-daemon"]
        )
        box.run(*service, check=True)
        assert box.watchdog_processes(), box.kind
    done = salt(salt_cli, "assist.stop")
    assert done.returncode == 0, done
    for box in two.values():
        assert done.data[box.minion_id]["changes"] == {"daemon": {"old": "running", "new": "absent"}}, box.kind
        assert box.watchdog_processes() == [] and not box.watchdog_installed(), box.kind
        put_back(box, update_build)


def test_an_agent_half_installed_is_said_with_its_paths_and_no_verb_acts_on_it(salt_cli, two, update_build):
    """The unit or job is there, its program is gone (deleted by hand)."""
    program = vendor_agent.program(UPDATE.release)
    for box in two.values():
        vendor_agent.run_flag(box.container, "--stop", UPDATE.release)
        box.file(program).unlink()
    state = {kind: (box.client_active(), listing(box)) for kind, box in two.items()}
    status = salt(salt_cli, "assist.status").data
    for box in two.values():
        incomplete = status[box.minion_id]["client"]["incomplete"]
        assert incomplete and program in incomplete, (box.kind, incomplete)
    for verb in ("assist.start", "assist.stop", "assist.disable"):
        done = salt(salt_cli, verb)
        assert done.returncode != 0, done
        assert all("half installed" in str(ret) for ret in done.data.values()), done
    assert {kind: (box.client_active(), listing(box)) for kind, box in two.items()} == state
    for box in two.values():  # the program put back: whole again
        box.file(program).write_bytes(update_build.read_bytes())
        box.file(program).chmod(0o755)
        vendor_agent.run_flag(box.container, "--start", UPDATE.release)
        assert box.one_client_runs(), box.kind


@pytest.fixture
def read_only_etc(two):
    """/etc read-only inside each container (a bind mount made read-only)."""
    for box in two.values():
        box.run("mount", "--bind", "/etc", "/etc", check=True)
        box.run("mount", "-o", "remount,bind,ro", "/etc", check=True)
    yield
    for box in two.values():
        box.run("umount", "/etc", check=True)


def test_a_read_only_etc_refuses_disable_in_words_and_changes_nothing(salt_cli, two, read_only_etc):
    enabled = {
        kind: salt_cli.run("assist.status", minion_tgt=box.minion_id).data["client"]["enabled"] for kind, box in two.items()
    }
    assert enabled == {"systemd": True, "upstart": True}
    done = salt(salt_cli, "assist.disable")
    assert done.returncode != 0, done
    for box in two.values():
        said = str(done.data[box.minion_id])
        assert "Read-only file system" in said and "Traceback" not in said, (box.kind, said)
        assert box.one_client_runs(), box.kind
    after = {kind: salt_cli.run("assist.status", minion_tgt=box.minion_id).data["client"]["enabled"] for kind, box in two.items()}
    assert after == enabled
