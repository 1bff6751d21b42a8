"""The product on the other systemd releases fleets run: systemd 247 (Debian 11) and 257
(Debian 13) as PID 1, beside test_init_systems.py's 252 (Debian 12), each with the
vendor's agent installed by its own --install, the stand-in watchdog and a minion,
driven through the salt-master on the host. Their containers boot for this file alone.

Each proof is asked of both releases and checked against systemd's own answer
(systemctl); where the releases differ, the test names the difference.
"""

import contextlib

import pytest

from tests.support.fakeagent import holds_for, wait_until
from tests.system.conftest import SYSTEMD_RELEASES, boot_boxes, reboot

TARGET = ",".join(f"rel-{kind}" for kind in SYSTEMD_RELEASES)
VERSION = {"systemd-247": "247", "systemd-257": "257"}


@pytest.fixture(scope="module")
def releases(images, salt_master, salt_cli, tmp_path_factory):
    with contextlib.ExitStack() as stack:
        yield boot_boxes(SYSTEMD_RELEASES, images, salt_master, salt_cli, tmp_path_factory, stack)


def everywhere(salt_cli, function, *args):
    """FUNCTION on both releases' minions: {kind: the return}."""
    ret = salt_cli.run("-L", function, *args, minion_tgt=TARGET)
    assert ret.returncode == 0, ret
    return {kind: ret.data[f"rel-{kind}"] for kind in SYSTEMD_RELEASES}


def unit_state(box):
    shown = box.run("systemctl", "show", box.unit, "--property=ActiveState,SubState").stdout
    props = dict(line.split("=", 1) for line in shown.splitlines())
    return props["ActiveState"], props["SubState"]


def test_the_release_runs_and_is_detected_as_systemd(salt_cli, releases):
    for kind, box in releases.items():
        assert box.run("systemctl", "--version").stdout.split()[:2] == ["systemd", VERSION[kind]], kind
    assert everywhere(salt_cli, "assist.init_system") == dict.fromkeys(SYSTEMD_RELEASES, "systemd")
    for kind, status in everywhere(salt_cli, "assist.status").items():
        assert status["init"]["evidence"] == "/run/systemd/system exists (systemd runs)", kind


def test_status_agrees_with_systemctl_and_finds_the_unit_the_installer_named(salt_cli, releases):
    """Under dash (these roots' /bin/sh) the vendor's installer names the unit
    aliyun-service.service on every release."""
    for kind, status in everywhere(salt_cli, "assist.status").items():
        box = releases[kind]
        assert box.unit == "aliyun-service.service", kind
        client = status["client"]
        assert (client["service"], client["service_evidence"]) == (
            "aliyun-service.service",
            "found /etc/systemd/system/aliyun-service.service (the vendor's name)",
        ), kind
        assert box.run("systemctl", "is-active", box.unit).stdout.strip() == "active", kind
        assert box.run("systemctl", "is-enabled", box.unit).stdout.strip() == "enabled", kind
        assert (client["running"], client["enabled"], client["restart_pending"]) == (True, True, False), kind
        assert client["pids"] == [int(pid) for pid in box.client_processes()] and len(client["pids"]) == 1, kind
        assert status["daemon"]["running"] is True and box.watchdog_processes(), kind


def test_stop_removes_the_watchdog_first_and_the_client_stays_down_then_start(salt_cli, releases):
    stopped = everywhere(salt_cli, "assist.stop")
    for kind, ret in stopped.items():
        assert ret["changes"] == {
            "daemon": {"old": "running", "new": "absent"},
            "client": {"old": "running", "new": "stopped"},
        }, kind

    def all_down():
        return all(not box.client_active() and box.client_processes() == [] for box in releases.values())

    assert holds_for(all_down, 10, interval=0.5)
    for kind, box in releases.items():
        assert box.watchdog_processes() == [] and not box.watchdog_installed(), kind
        assert unit_state(box) == ("inactive", "dead"), kind
    started = everywhere(salt_cli, "assist.start")
    for kind, box in releases.items():
        assert started[kind]["changes"] == {"client": {"old": "stopped", "new": "running"}}, kind
        assert box.one_client_runs() and unit_state(box) == ("active", "running"), kind


def test_a_killed_client_is_pending_restart_and_stop_cancels_it(salt_cli, releases):
    """The vendor's unit (Restart=on-failure, RestartSec=120) holds a killed client in
    systemd's auto-restart state on every release; status says so, the frozen policy is
    not met, stop cancels the restart and start starts it at once."""
    for box in releases.values():
        (pid,) = box.client_processes()
        box.run("kill", "-9", pid, check=True)
    for kind, box in releases.items():
        assert wait_until(lambda box=box: unit_state(box) == ("activating", "auto-restart"), timeout=10), (kind, unit_state(box))
    for kind, status in everywhere(salt_cli, "assist.status").items():
        client = status["client"]
        assert (client["running"], client["restart_pending"], client["pids"]) == (False, True, []), kind
    audits = salt_cli.run("-L", "assist.audit", minion_tgt=TARGET).data
    for kind in SYSTEMD_RELEASES:
        assert "client is down and its init system will restart it, policy says dead" in audits[f"rel-{kind}"]["drift"], kind
    for kind, ret in everywhere(salt_cli, "assist.stop").items():
        assert ret["changes"] == {"client": {"old": "restart pending", "new": "stopped"}}, kind
        assert unit_state(releases[kind]) == ("inactive", "dead") and releases[kind].client_processes() == [], kind
    for kind, ret in everywhere(salt_cli, "assist.start").items():
        assert ret["changes"] == {"client": {"old": "stopped", "new": "running"}}, kind
        assert releases[kind].one_client_runs(), kind


def test_start_at_boot_off_and_on_across_reboots(salt_cli, releases):
    for kind, ret in everywhere(salt_cli, "assist.disable").items():
        assert ret["changes"] == {"enabled": {"old": True, "new": False}}, kind
        assert releases[kind].run("systemctl", "is-enabled", releases[kind].unit).stdout.strip() == "disabled", kind
    reboot(*releases.values())
    assert holds_for(lambda: not any(box.client_active() or box.client_processes() for box in releases.values()), 3)
    for kind, status in everywhere(salt_cli, "assist.status").items():
        assert (status["client"]["running"], status["client"]["enabled"]) == (False, False), kind

    for kind, ret in everywhere(salt_cli, "assist.enable").items():
        assert ret["changes"] == {"enabled": {"old": False, "new": True}}, kind
    reboot(*releases.values())
    for kind, box in releases.items():
        assert wait_until(box.one_client_runs, timeout=10), kind
    for kind, status in everywhere(salt_cli, "assist.status").items():
        assert (status["client"]["running"], status["client"]["enabled"]) == (True, True), kind


def test_the_unit_is_found_under_the_other_name_the_vendors_installer_gives(salt_cli, releases):
    """With bash as /bin/sh the agent's own systemd test passes, and its installer
    writes aliyun.service instead (test_vendor_agent.py, on 252)."""
    from tests.system import vendor_agent

    for box in releases.values():
        vendor_agent.run_flag(box.container, "--stop")
        vendor_agent.run_flag(box.container, "--remove")
        box.run("ln", "-sf", "bash", "/bin/sh", check=True)
        try:
            vendor_agent.run_flag(box.container, "--install")
            vendor_agent.run_flag(box.container, "--start")
        finally:
            box.run("ln", "-sf", "dash", "/bin/sh", check=True)
        box.unit = box.installed_unit()
        assert box.unit == "aliyun.service", box.kind
    for kind, status in everywhere(salt_cli, "assist.status").items():
        client = status["client"]
        assert (client["service"], client["service_evidence"], client["running"]) == (
            "aliyun.service",
            "found /etc/systemd/system/aliyun.service (the vendor's name)",
            True,
        ), kind
    for kind, ret in everywhere(salt_cli, "assist.stop").items():
        assert ret["changes"] == {"client": {"old": "running", "new": "stopped"}}, kind
        assert releases[kind].run("systemctl", "is-active", "aliyun.service").stdout.strip() == "inactive", kind
