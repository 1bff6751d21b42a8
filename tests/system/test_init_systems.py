"""The product on real systemd, sysvinit and UpStart (1.13.2 and 0.6.5), with the vendor's
agent 2.2.3.578 installed by its own installer, driven through the salt-master on the host.
The watchdog is a stand-in (its binary is closed source).

The tests run in file order: each leaves the containers in the state the next expects.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import yaml

from tests.conftest import extension_dirs
from tests.support.fakeagent import holds_for, wait_until
from tests.system import vendor_agent
from tests.system.conftest import reboot, settle

UNBOOTED = pathlib.Path(__file__).with_name("unbooted_systemd.py")
TARGET = "sys-*"
UPSTARTS = ("upstart", "upstart-0.6.5")
# Start at boot is proved where the module records it the init system's way. UpStart
# 0.6.5 ignores `.override` files (they came in 1.3): test_upstart_0_6_5.py covers it.
BOOT_KINDS = ("systemd", "sysvinit", "upstart")
BOOT_TARGET = ",".join(f"sys-{kind}" for kind in BOOT_KINDS)


def test_init_system_is_detected_from_the_real_init(salt_cli, boxes):
    ret = salt_cli.run("assist.init_system", minion_tgt=TARGET)
    assert ret.data == {
        "sys-systemd": "systemd",
        "sys-sysvinit": "sysvinit",
        "sys-upstart": "upstart",
        "sys-upstart-0.6.5": "upstart",
    }
    evidence = {k: v["init"]["evidence"] for k, v in salt_cli.run("assist.status", minion_tgt=TARGET).data.items()}
    assert evidence == {
        "sys-systemd": "/run/systemd/system exists (systemd runs)",
        "sys-sysvinit": "/sbin/init contains 'sysvinit'",
        "sys-upstart": "initctl --version names upstart",
        "sys-upstart-0.6.5": "initctl --version names upstart",
    }
    versions = {kind: boxes[kind].initctl("version").stdout for kind in UPSTARTS}
    assert versions == {"upstart": "init (upstart 1.13.2)\n", "upstart-0.6.5": "init (upstart 0.6.5)\n"}


def test_status_agrees_with_the_containers_own_tools(salt_cli, boxes):
    status = salt_cli.run("assist.status", minion_tgt=TARGET).data
    for kind, box in boxes.items():
        report = status[box.minion_id]
        assert box.client_active() is True, kind
        assert report["client"]["running"] is True, kind
        assert report["client"]["enabled"] is True, kind
        assert report["daemon"]["installed"] is True and report["daemon"]["running"] is True, kind
        assert box.watchdog_processes(), kind
        assert report["client"]["pids"] == [int(pid) for pid in box.client_processes()], kind
        assert report["client"]["version"] == vendor_agent.RELEASE, kind
    for kind in UPSTARTS:
        report = status[boxes[kind].minion_id]["client"]
        assert report["service"] == "aliyun-service"
        assert boxes[kind].job_state() == ("start/running", report["pids"][0]), kind
        assert len(report["pids"]) == 1, kind
    # The vendor's installer named the unit by its own systemd test, which fails under
    # dash without binutils (this root's /bin/sh): aliyun-service.service, found.
    systemd = status["sys-systemd"]["client"]
    assert boxes["systemd"].unit == "aliyun-service.service"
    assert (systemd["service"], systemd["service_evidence"]) == (
        "aliyun-service.service",
        "found /etc/systemd/system/aliyun-service.service (the vendor's name)",
    )


def test_stop_leaves_the_client_down_and_the_watchdog_gone_and_start_brings_it_back(salt_cli, boxes):
    ret = salt_cli.run("assist.stop", minion_tgt=TARGET)
    assert ret.returncode == 0, ret
    for box in boxes.values():
        assert ret.data[box.minion_id]["changes"] == {
            "daemon": {"old": "running", "new": "absent"},
            "client": {"old": "running", "new": "stopped"},
        }

    # Neither the watchdog, nor systemd's Restart=, nor UpStart's `respawn` may bring it back.
    def all_down():
        return all(not box.client_active() and box.client_processes() == [] for box in boxes.values())

    assert holds_for(all_down, 10, interval=0.5)
    for kind, box in boxes.items():
        assert box.watchdog_processes() == [] and not box.watchdog_installed(), kind
    if "systemd" in boxes:
        assert boxes["systemd"].run("systemctl", "is-enabled", "AssistDaemon.service").stdout.strip() != "enabled"
    for kind in UPSTARTS:
        box = boxes[kind]
        assert box.job_state() == ("stop/waiting", None), kind
        gone = box.initctl("status", "assist-daemon")
        assert (gone.returncode, gone.stderr) == (1, "initctl: Unknown job: assist-daemon\n"), kind

    again = salt_cli.run("assist.stop", minion_tgt=TARGET)
    assert all(r["changes"] == {} for r in again.data.values())

    started = salt_cli.run("assist.start", minion_tgt=TARGET)
    assert started.returncode == 0, started
    for kind, box in boxes.items():
        assert box.client_active() is True, kind
        assert box.client_processes(), kind
    for kind in UPSTARTS:
        state, pid = boxes[kind].job_state()
        assert state == "start/running" and [str(pid)] == boxes[kind].client_processes(), kind
    assert all(r["changes"] == {} for r in salt_cli.run("assist.start", minion_tgt=TARGET).data.values())


def test_a_client_killed_behind_salts_back_is_respawned_by_upstart_and_status_says_so(salt_cli, boxes):
    """No watchdog is left (the stop above removed it): only UpStart's `respawn` acts."""
    for kind in UPSTARTS:
        box = boxes[kind]
        assert box.watchdog_processes() == [], kind
        _state, old = box.job_state()
        box.run("kill", "-9", str(old), check=True)
        assert wait_until(lambda box=box, old=old: box.job_state()[1] not in (None, old), timeout=10), box.job_state()
        state, new = box.job_state()
        assert state == "start/running", kind
        report = salt_cli.run("assist.status", minion_tgt=box.minion_id).data["client"]
        assert (report["running"], report["pids"]) == (True, [new]), kind
        assert box.client_processes() == [str(new)], kind


def test_a_client_killed_behind_salts_back_waits_for_systemd_and_status_says_so(salt_cli, boxes):
    """The agent's unit (as the vendor's: Restart=on-failure, RestartSec=120) starts a
    killed client again only after two minutes. Meanwhile status says it is down and
    that systemd will restart it; start starts it now; stop cancels the restart."""
    box = boxes["systemd"]

    def unit_state():
        shown = box.run("systemctl", "show", box.unit, "--property=ActiveState,SubState").stdout
        props = dict(line.split("=", 1) for line in shown.splitlines())
        return props["ActiveState"], props["SubState"]

    def kill_client():
        (pid,) = box.client_processes()
        box.run("kill", "-9", pid, check=True)
        assert wait_until(lambda: unit_state() == ("activating", "auto-restart"), timeout=10), unit_state()

    def call(function):
        return salt_cli.run(function, minion_tgt=box.minion_id).data

    assert box.watchdog_processes() == []  # removed by the stop above: only systemd acts
    kill_client()
    client = call("assist.status")["client"]
    assert (client["running"], client["restart_pending"], client["pids"]) == (False, True, [])
    # The minion's policy is frozen (client dead): not met while systemd will restart it.
    assert "client is down and its init system will restart it, policy says dead" in call("assist.audit")["drift"]
    assert call("assist.start")["changes"] == {"client": {"old": "stopped", "new": "running"}}
    assert unit_state() == ("active", "running") and len(box.client_processes()) == 1

    kill_client()
    assert call("assist.stop")["changes"] == {"client": {"old": "restart pending", "new": "stopped"}}
    assert unit_state() == ("inactive", "dead") and box.client_processes() == []
    assert call("assist.start")["changes"] == {"client": {"old": "stopped", "new": "running"}}


def test_highstate_freezes_and_the_freeze_survives_a_reboot(salt_cli, boxes):
    frozen = {kind: boxes[kind] for kind in BOOT_KINDS}
    for box in frozen.values():
        box.put_watchdog_back()
    ret = salt_cli.run("-L", "state.highstate", minion_tgt=BOOT_TARGET)
    assert ret.returncode == 0, ret
    assert set(ret.data) == {box.minion_id for box in frozen.values()}
    for box in frozen.values():
        order = sorted(ret.data[box.minion_id].values(), key=lambda s: s["__run_num__"])
        assert [s["__id__"] for s in order] == ["assist-daemon-absent", "assist-client-dead"]
        assert order[1]["changes"]["enabled"] == {"old": True, "new": False}
    settle()
    for kind, box in frozen.items():
        assert box.client_active() is False and box.client_processes() == [], kind
        assert box.watchdog_processes() == [] and not box.watchdog_installed(), kind
    # UpStart 1.13.2 records "no start at boot" as `manual` in the job's override file,
    # beside what the file held (the agent's server: tests/system/vendor_agent.py).
    assert frozen["upstart"].run("cat", "/etc/init/aliyun-service.override").stdout == f"env {vendor_agent.SERVER_LINE}manual\n"

    reboot(*frozen.values())
    settle(3)
    for kind, box in frozen.items():
        assert box.client_active() is False and box.client_processes() == [], kind
    assert frozen["upstart"].job_state() == ("stop/waiting", None)
    status = salt_cli.run("-L", "assist.status", minion_tgt=BOOT_TARGET).data
    assert {k: (v["client"]["running"], v["client"]["enabled"]) for k, v in status.items()} == {
        "sys-systemd": (False, False),
        "sys-sysvinit": (False, False),
        "sys-upstart": (False, False),
    }

    second = salt_cli.run("-L", "state.highstate", minion_tgt=BOOT_TARGET)
    assert second.returncode == 0, second
    for result in second.data.values():
        assert all(state["changes"] == {} for state in result.values())


def test_the_host_with_systemd_installed_but_not_running_gets_an_error(tmp_path, systemd_root):
    """This host as a container without its init looks: /sbin/init is systemd's (Debian's
    real binary), /run/systemd/system is absent, PID 1 is something else. Made in a
    mount namespace of the salt-call's own; the host is not changed."""
    (tmp_path / "minion").write_text(yaml.safe_dump({"file_client": "local", "root_dir": str(tmp_path), **extension_dirs()}))
    salt_call = [f"{sys.prefix}/bin/salt-call", "--local", "-c", str(tmp_path), "--retcode-passthrough"]
    host_init = init_on_host()
    unbooted = [
        "unshare",
        "--mount",
        sys.executable,
        str(UNBOOTED),
        str(systemd_root / "lib/systemd/systemd"),
        str(tmp_path / "overlay"),
        "--",
    ]
    for verb in ("assist.stop", "assist.status"):
        done = subprocess.run([*unbooted, *salt_call, verb], capture_output=True, text=True)
        assert done.returncode != 0, verb
        assert (
            "systemd is installed (/sbin/init contains '/lib/system') but is not running as PID 1" in done.stdout + done.stderr
        ), verb
        shutil.rmtree(tmp_path / "overlay")
    assert init_on_host() == host_init


def init_on_host():
    """What this host's own /sbin/init is: absent, or the file it leads to."""
    return os.path.realpath("/sbin/init") if os.path.lexists("/sbin/init") else None
