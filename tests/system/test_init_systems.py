"""The product on real systemd and sysvinit, driven through the salt-master on the host.

The tests run in file order: each leaves the containers in the state the next expects.
"""

import subprocess
import sys
import time

from tests.conftest import REPO

TARGET = "sys-*"


def settle(seconds=2.0):
    """Longer than the fake watchdog's restart interval (0.1 s), many times over."""
    time.sleep(seconds)


def test_init_system_is_detected_from_the_real_init(salt_cli, boxes):
    ret = salt_cli.run("assist.init_system", minion_tgt=TARGET)
    assert ret.data == {"sys-systemd": "systemd", "sys-sysvinit": "sysvinit"}
    evidence = {k: v["init"]["evidence"] for k, v in salt_cli.run("assist.status", minion_tgt=TARGET).data.items()}
    assert evidence == {
        "sys-systemd": "/run/systemd/system exists (systemd runs)",
        "sys-sysvinit": "/sbin/init contains 'sysvinit'",
    }


def test_status_agrees_with_the_containers_own_tools(salt_cli, boxes):
    status = salt_cli.run("assist.status", minion_tgt=TARGET).data
    for kind, box in boxes.items():
        report = status[box.minion_id]
        assert box.client_active() is True, kind
        assert report["client"]["running"] is True, kind
        assert report["client"]["enabled"] is True, kind
        assert report["daemon"]["installed"] is True and report["daemon"]["running"] is True, kind
        assert box.watchdog_processes(), kind


def test_stop_leaves_the_client_down_and_the_watchdog_gone_and_start_brings_it_back(salt_cli, boxes):
    ret = salt_cli.run("assist.stop", minion_tgt=TARGET)
    assert ret.returncode == 0, ret
    for box in boxes.values():
        assert ret.data[box.minion_id]["changes"] == {
            "daemon": {"old": "running", "new": "absent"},
            "client": {"old": "running", "new": "stopped"},
        }
    settle()
    for kind, box in boxes.items():
        assert box.client_active() is False, kind
        assert box.client_processes() == [], kind
        assert box.watchdog_processes() == [] and not box.watchdog_installed(), kind
    if "systemd" in boxes:
        assert boxes["systemd"].run("systemctl", "is-enabled", "AssistDaemon.service").stdout.strip() != "enabled"

    again = salt_cli.run("assist.stop", minion_tgt=TARGET)
    assert all(r["changes"] == {} for r in again.data.values())

    started = salt_cli.run("assist.start", minion_tgt=TARGET)
    assert started.returncode == 0, started
    for kind, box in boxes.items():
        assert box.client_active() is True, kind
        assert box.client_processes(), kind
    assert all(r["changes"] == {} for r in salt_cli.run("assist.start", minion_tgt=TARGET).data.values())


def test_highstate_freezes_both_and_the_freeze_survives_a_reboot(salt_cli, boxes):
    for box in boxes.values():
        box.start_watchdog()
    ret = salt_cli.run("state.highstate", minion_tgt=TARGET)
    assert ret.returncode == 0, ret
    for box in boxes.values():
        order = sorted(ret.data[box.minion_id].values(), key=lambda s: s["__run_num__"])
        assert [s["__id__"] for s in order] == ["assist-daemon-absent", "assist-client-dead"]
        assert order[1]["changes"]["enabled"] == {"old": True, "new": False}
    settle()
    for kind, box in boxes.items():
        assert box.client_active() is False and box.client_processes() == [], kind

    for box in boxes.values():
        box.reboot(salt_cli)
    settle(3)
    for kind, box in boxes.items():
        assert box.client_active() is False and box.client_processes() == [], kind
    status = salt_cli.run("assist.status", minion_tgt=TARGET).data
    assert {k: (v["client"]["running"], v["client"]["enabled"]) for k, v in status.items()} == {
        "sys-systemd": (False, False),
        "sys-sysvinit": (False, False),
    }

    second = salt_cli.run("state.highstate", minion_tgt=TARGET)
    assert second.returncode == 0, second
    for result in second.data.values():
        assert all(state["changes"] == {} for state in result.values())


def test_the_host_with_systemd_installed_but_not_running_gets_an_error(tmp_path):
    """This machine: systemd's /sbin/init, but PID 1 is something else."""
    (tmp_path / "minion").write_text(
        f"file_client: local\nroot_dir: {tmp_path}\n"
        f"module_dirs: [{REPO / '_modules'}]\nutils_dirs: [{REPO / '_utils'}]\n"
    )
    done = subprocess.run(
        [f"{sys.prefix}/bin/salt-call", "--local", "-c", str(tmp_path), "--retcode-passthrough", "assist.stop"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "systemd is installed (/sbin/init contains '/lib/system') but is not running as PID 1" in done.stdout + done.stderr
