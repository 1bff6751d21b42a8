"""What only the vendor's real agent shows, on the four real init systems: how it is
stopped by hand, what a killed agent leaves behind, an update in place, the two names
of its systemd unit, and start at boot through the vendor's own unit, job and script.

Runs after test_init_systems.py and test_upstart_0_6_5.py: systemd, sysvinit and UpStart
1.13.2 are left frozen (client stopped, no start at boot, no watchdog), UpStart 0.6.5
running and starting at boot. Each test leaves every client running.
"""

import subprocess

import pytest

from tests.support.fakeagent import holds_for, wait_until
from tests.system import host, offline, vendor_agent
from tests.system.conftest import UPDATE, UPSTART_RELEASE, reboot
from tests.system.container import Container

TARGET = "sys-*"
FROZEN = ("systemd", "sysvinit", "upstart")


def call(salt_cli, function, box):
    return salt_cli.run(function, minion_tgt=box.minion_id).data


def test_the_agent_is_not_installed_where_a_container_has_more_than_loopback(tmp_path):
    """Checked before the agent first runs: a namespace with a veth pair (made here, no
    container booted) is refused, and nothing runs in it."""
    holder = subprocess.Popen([*offline.WITH_AN_INTERFACE, "sleep", "60"], env=host.host_env())
    try:
        box = Container("systemd", tmp_path, "not-booted")
        box.leader_pid = holder.pid  # unshare execs: the same pid, in the new namespace
        assert wait_until(lambda: len(box.interfaces()) == 3, timeout=10)
        ran = []
        box.run = lambda argv, **kwargs: ran.append(argv)
        with pytest.raises(
            vendor_agent.InstallError,
            match=r"refusing to run the agent in not-booted: its network has lo, extra\d, extra\d, not only lo",
        ):
            vendor_agent.install(box, "systemd")
        assert ran == []
    finally:
        holder.kill()
        holder.wait()


def test_enable_brings_the_client_back_at_boot_through_the_vendors_files(salt_cli, boxes):
    """systemd: the vendor's unit; sysvinit: its init script's rc links; UpStart 1.13.2:
    `manual` taken out of the job's override (UpStart 0.6.5: test_upstart_0_6_5.py)."""
    frozen = [boxes[kind] for kind in FROZEN]
    for box in frozen:
        ret = salt_cli.run("assist.enable", minion_tgt=box.minion_id)
        assert ret.returncode == 0, ret
        assert ret.data["changes"] == {"enabled": {"old": False, "new": True}}, box.kind
    assert boxes["upstart"].file(vendor_agent.UPSTART_OVERRIDE).read_text() == f"env {vendor_agent.SERVER_LINE}"
    reboot(*frozen)
    for box in frozen:
        assert wait_until(box.one_client_runs, timeout=10), box.kind
        status = call(salt_cli, "assist.status", box)["client"]
        assert (status["running"], status["enabled"]) == (True, True), box.kind
        # The frozen policy (client dead, no start at boot) is not met, and says how.
        assert call(salt_cli, "assist.audit", box)["drift"] == [
            "client is running, policy says dead",
            "start at boot is on, policy says off",
        ], box.kind


def test_stopped_by_hand_with_the_vendors_own_stop_then_started_by_salt(salt_cli, boxes):
    for box in boxes.values():
        assert box.one_client_runs(), box.kind
        vendor_agent.run_flag(box.container, "--stop")
    assert holds_for(lambda: not any(box.client_processes() for box in boxes.values()), 3, interval=0.5)
    status = salt_cli.run("assist.status", minion_tgt=TARGET).data
    for box in boxes.values():
        client = status[box.minion_id]["client"]
        assert (client["running"], client["restart_pending"], client["pids"]) == (False, False, []), box.kind
    started = salt_cli.run("assist.start", minion_tgt=TARGET)
    assert started.returncode == 0, started
    for box in boxes.values():
        assert started.data[box.minion_id]["changes"] == {"client": {"old": "stopped", "new": "running"}}, box.kind
        assert box.one_client_runs(), box.kind


def test_a_killed_agent_leaves_stale_pid_files_and_its_lock_which_confuse_neither_status_nor_start(salt_cli, boxes):
    """sysvinit does nothing about a killed client (systemd and UpStart: test_init_systems.py):
    the init script's pid file, the agent's own pid file and its single-instance lock
    stay behind, naming a process that is gone."""
    box = boxes["sysvinit"]
    (pid,) = box.client_processes()
    box.run("kill", "-9", pid, check=True)
    assert wait_until(lambda: box.client_processes() == [], timeout=5)
    leftovers = ("/var/run/aliyun-service.pid", "/var/tmp/aliyun-service.pid", "/tmp/AliyunAssistClientSingleLock.lock")
    # Read inside: /run and /tmp are the container's own file systems.
    assert [box.run("test", "-f", path).returncode for path in leftovers] == [0, 0, 0]
    assert box.run("cat", "/var/run/aliyun-service.pid").stdout.strip() == pid
    client = call(salt_cli, "assist.status", box)["client"]
    assert (client["running"], client["pids"]) == (False, [])
    assert call(salt_cli, "assist.start", box)["changes"] == {"client": {"old": "stopped", "new": "running"}}
    (new,) = box.client_processes()
    assert new != pid and box.run("cat", "/var/run/aliyun-service.pid").stdout.strip() == new
    assert call(salt_cli, "assist.status", box)["client"]["pids"] == [int(new)]


def test_an_agent_updated_in_place_is_still_stopped_started_and_seen(salt_cli, boxes, update_build):
    for box in boxes.values():
        vendor_agent.update(
            box.container, box.init, update_build, vendor_agent.RELEASE, UPDATE.release, UPSTART_RELEASE.get(box.kind)
        )
        assert not box.file(f"{vendor_agent.SHARE}/{vendor_agent.RELEASE}").exists(), box.kind
        if box.init == "systemd":
            box.unit = box.installed_unit()
    new_program = vendor_agent.program(UPDATE.release)
    for box in boxes.values():
        assert box.one_client_runs(), box.kind
        (pid,) = box.client_processes()
        assert box.run("readlink", f"/proc/{pid}/exe").stdout.strip() == new_program, box.kind
    status = salt_cli.run("assist.status", minion_tgt=TARGET).data
    for box in boxes.values():
        client = status[box.minion_id]["client"]
        assert (client["running"], client["version"]) == (True, UPDATE.release), box.kind
        assert client["pids"] == [int(pid) for pid in box.client_processes()], box.kind
    assert (
        status["sys-systemd"]["client"]["service_evidence"]
        == "found /etc/systemd/system/aliyun-service.service (the vendor's name)"
    )
    for box in boxes.values():  # the new unit, job or script gives it its server too
        (pid,) = box.client_processes()
        assert vendor_agent.SERVER_LINE.strip() in box.run("cat", f"/proc/{pid}/environ").stdout.split("\0"), box.kind

    stopped = salt_cli.run("assist.stop", minion_tgt=TARGET)
    assert stopped.returncode == 0, stopped
    assert holds_for(lambda: not any(box.client_processes() or box.client_active() for box in boxes.values()), 3, interval=0.5)
    started = salt_cli.run("assist.start", minion_tgt=TARGET)
    assert started.returncode == 0, started
    assert all(box.one_client_runs() for box in boxes.values())


def test_systemd_the_unit_is_found_under_either_name_the_vendors_installer_gives(salt_cli, boxes):
    """On an image whose /bin/sh is bash (Red Hat's, Alibaba Cloud Linux) the agent's own
    systemd test passes, and its installer writes aliyun.service from its systemd
    template instead of aliyun-service.service. (Its --start and --stop ask the same test
    each time: under dash they would look for aliyun-service.service.)"""
    box = boxes["systemd"]
    vendor_agent.run_flag(box.container, "--stop", UPDATE.release)
    vendor_agent.run_flag(box.container, "--remove", UPDATE.release)
    box.run("ln", "-sf", "bash", "/bin/sh", check=True)
    try:
        vendor_agent.run_flag(box.container, "--install", UPDATE.release)
        vendor_agent.run_flag(box.container, "--start", UPDATE.release)
        box.unit = box.installed_unit()
        assert box.unit == "aliyun.service"
        assert "Restart=on-failure" in box.file("/etc/systemd/system/aliyun.service").read_text().split()
        client = call(salt_cli, "assist.status", box)["client"]
        assert (client["service"], client["service_evidence"], client["running"]) == (
            "aliyun.service",
            "found /etc/systemd/system/aliyun.service (the vendor's name)",
            True,
        )
        assert call(salt_cli, "assist.stop", box)["changes"] == {"client": {"old": "running", "new": "stopped"}}
        assert box.run("systemctl", "is-active", "aliyun.service").stdout.strip() == "inactive"
        assert call(salt_cli, "assist.start", box)["changes"] == {"client": {"old": "stopped", "new": "running"}}
        assert box.one_client_runs()
        # Back as under dash, where the agent's own --stop and --remove find their unit.
        vendor_agent.run_flag(box.container, "--stop", UPDATE.release)
        vendor_agent.run_flag(box.container, "--remove", UPDATE.release)
    finally:
        box.run("ln", "-sf", "dash", "/bin/sh", check=True)
    vendor_agent.run_flag(box.container, "--install", UPDATE.release)
    vendor_agent.run_flag(box.container, "--start", UPDATE.release)
    box.unit = box.installed_unit()
    assert box.unit == "aliyun-service.service" and box.one_client_runs()


def test_the_registration_and_settings_of_the_agent_are_as_its_package_left_them(boxes):
    for kind, box in boxes.items():
        assert box.registration_files() == box.registration, kind
