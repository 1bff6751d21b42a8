"""The execution module's verbs (_modules/assist.py), the same whatever the init system:
the audit over a backend; a restart the init system has pending cancelled
first; a start at boot change read again; a stopped client started, not restarted; a
minion without the agent judged, not failed. Where a verb runs, it runs over a backend
whose commands are recorded (tests/unit/recorder.py)."""

import re

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.refusals import refusal
from tests.unit.conftest import assist, configure_loader_modules, minion_settings  # noqa: F401  (the loader mock)
from tests.unit.recorder import (
    NO_UNIT,
    SHOW,
    SYSTEMD_ACTIVE,
    SYSTEMD_NO_UNIT,
    SYSTEMD_RESTART_PENDING,
    SYSTEMD_STOPPED,
    Recorder,
    install_watchdog,
)

# --------------------------------------------------------------------------- audit


def test_systemd_a_pending_restart_drifts_from_a_dead_policy(systemd, record):
    record(SYSTEMD_RESTART_PENDING)
    assist.__pillar__["assist"] = {"client": "dead", "daemon": "absent", "enable": True}
    audit = assist.audit()
    assert audit["agent"]["client"] == "restart pending"
    assert audit["drift"] == ["client is down and its init system will restart it, policy says dead"]
    assert audit["result"] is False


# --------------------------------------------------------------------------- start, stop and restart


def test_systemd_start_starts_a_client_waiting_to_restart_now(systemd, record):
    recorder = record(SYSTEMD_RESTART_PENDING, after={("systemctl", "start"): SYSTEMD_ACTIVE})
    assert assist.start()["changes"] == {"client": {"old": "stopped", "new": "running"}}
    # systemctl start alone would wait until the restart is due: the stop cancels it.
    assert recorder.commands()[1:3] == ["systemctl stop aliyun.service", "systemctl start aliyun.service"]


def test_systemd_restart_of_a_client_waiting_to_restart_starts_it_now(systemd, record):
    recorder = record(SYSTEMD_RESTART_PENDING, after={("systemctl", "start"): SYSTEMD_ACTIVE})
    assert assist.restart()["changes"] == {"client": {"old": "stopped", "new": "restarted"}}
    assert recorder.commands()[1:3] == ["systemctl stop aliyun.service", "systemctl start aliyun.service"]


def test_systemd_stop_cancels_a_pending_restart(systemd, record):
    recorder = record(SYSTEMD_RESTART_PENDING, after={("systemctl", "stop"): SYSTEMD_STOPPED})
    assert assist.stop(test=True)["changes"] == {"client": {"old": "restart pending", "new": "stopped"}}
    assert "systemctl stop aliyun.service" not in recorder.commands()
    assert assist.stop()["changes"] == {"client": {"old": "restart pending", "new": "stopped"}}
    assert recorder.commands()[-2:] == [
        "systemctl stop aliyun.service",
        SHOW,
    ]
    assert assist.stop()["changes"] == {}


def test_restart_of_a_stopped_client_starts_it(upstart, upstart_version):
    # Real UpStart: `initctl restart` of a stopped job exits 1, "initctl: Unknown instance:".
    recorder = upstart_version("1.13.2", running=False)
    with pytest.raises(CommandExecutionError, match="is not running 0.2 s later"):
        assist.restart()  # the recorder never starts anything: only the command matters here
    commands = recorder.commands()
    assert "initctl start aliyun-service" in commands and "initctl restart aliyun-service" not in commands


# --------------------------------------------------------------------------- start at boot, read again


def test_systemd_a_start_at_boot_change_that_did_not_take_is_an_error_naming_the_command(systemd, record):
    # systemctl disable exits 0, yet is-enabled still says enabled (an alias or a
    # second unit file enables it): the change is not reported as made.
    record(SYSTEMD_ACTIVE)
    with pytest.raises(
        CommandExecutionError,
        match="turning start at boot off did not take: `systemctl disable aliyun.service` succeeded, "
        "but systemd still says start at boot is on",
    ):
        assist.disable()


# --------------------------------------------------------------------------- no agent


def test_systemd_without_the_agent_stop_disable_and_remove_daemon_succeed_and_run_nothing(no_agent, record):
    recorder = record(SYSTEMD_NO_UNIT)
    # The fixture's client folder is a setting (tmp_path): the words say it may be wrong.
    client_dir = minion_settings()["client_dir"]
    doubt = f"assist:lookup:client_dir is set to {client_dir} (left out, it would be /usr/local/share/aliyun-assist)"
    why = f"The agent is not installed ({NO_UNIT} and the client under {{}} are missing. {doubt}: the setting may be wrong)"
    assert assist.stop(disable=True) == {"comment": why.format(client_dir) + ": no client to stop", "changes": {}}
    assert assist.disable() == {"comment": why.format(client_dir) + ": nothing starts at boot", "changes": {}}
    assert assist.remove_daemon() == {"comment": "The watchdog is absent; nothing to do", "changes": {}}
    assert set(recorder.commands()) == {SHOW}


@pytest.mark.parametrize(
    "verb, step",
    [("start", "starting the client"), ("restart", "restarting the client"), ("enable", "turning start at boot on")],
)
def test_systemd_without_the_agent_start_restart_and_enable_fail_naming_the_unit_and_the_package(no_agent, record, verb, step):
    recorder = record(SYSTEMD_NO_UNIT)
    with pytest.raises(
        CommandExecutionError,
        match=rf"^{step} failed: the Cloud Assistant agent is not installed: {re.escape(NO_UNIT)} "
        r"and the client under (\S+) are missing. assist:lookup:client_dir is set to \1 \(left out, it would be "
        r"/usr/local/share/aliyun-assist\): the setting may be wrong. Install the Cloud Assistant agent "
        r"\(the package aliyun-assist on Debian and Ubuntu, aliyun_assist on RHEL, .*Nothing was changed.$",
    ):
        getattr(assist, verb)()
    assert recorder.commands() == [SHOW]


def test_systemd_stop_removes_a_watchdog_left_without_its_client(no_agent, record):
    install_watchdog(no_agent)
    recorder = record(SYSTEMD_NO_UNIT)
    ret = assist.stop()
    assert ret["changes"] == {"daemon": {"old": "installed", "new": "absent"}}
    assert ret["comment"].startswith(f"Removed the watchdog. The agent is not installed ({NO_UNIT}")
    assert recorder.commands() == [SHOW, "assist_daemon --stop", "assist_daemon --delete"]
    assert not no_agent.exists()


def test_systemd_audit_without_the_agent_meets_a_dead_policy_and_drifts_from_a_running_one(no_agent, record):
    record(SYSTEMD_NO_UNIT)
    assist.__pillar__["assist"] = {"client": "dead", "daemon": "absent", "enable": False}
    audit = assist.audit()
    assert (audit["result"], audit["drift"], audit["agent"]["client"]) == (True, [], "not installed")
    assist.__pillar__["assist"] = {}
    assert assist.audit()["drift"] == [
        "the agent is not installed, policy says running",
        "watchdog is absent, policy says present",
    ]


# --------------------------------------------------------------------------- a path from a setting


def image_minion(settings, tmp_path, **lookup):
    """A sysvinit (or UpStart) image root in tmp_path whose assist:lookup sets ``lookup``."""
    settings.update({"root": str(tmp_path), "run_image_programs": True, "init_system": "sysvinit", **lookup})
    return tmp_path


def the_agent_of_an_image(root):
    """The vendor's client in the image, with a version folder."""
    program = root / "usr/local/share/aliyun-assist/2.2.3.578/aliyun-service"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)


def keep_conf(root):
    """An operator's file, not executable, that a mistaken setting names."""
    path = root / "etc" / "important" / "keep.conf"
    path.parent.mkdir(parents=True)
    path.write_text("keep me\n")
    return path


def a_job_folder(root):
    """An UpStart image (its initctl, never run) where /etc/init/important.conf is a folder."""
    (root / "sbin").mkdir()
    (root / "sbin/initctl").write_text("#!/bin/sh\nexit 99\n")
    (root / "sbin/initctl").chmod(0o755)
    (root / "etc/init/important.conf").mkdir(parents=True)


SAID = "the setting may be wrong"


@pytest.mark.parametrize(
    "key, make, problem",
    [
        (
            "sysv_script",
            lambda root: (the_agent_of_an_image(root), keep_conf(root)) and {"sysv_script": "/etc/important/keep.conf"},
            "the init script /etc/important/keep.conf is not executable. assist:lookup:sysv_script is set to "
            "/etc/important/keep.conf (left out, it would be /etc/init.d/aliyun-service)",
        ),
        (
            "upstart_job",
            lambda root: (
                (the_agent_of_an_image(root), a_job_folder(root)) and {"init_system": "upstart", "upstart_job": "important"}
            ),
            "the job /etc/init/important.conf is not a file. assist:lookup:upstart_job is set to important "
            "(left out, it would be aliyun-service)",
        ),
        (
            "client_dir",
            lambda root: (
                (
                    keep_conf(root),
                    (root / "etc/important/2.0").mkdir(),
                    (root / "etc/important/2.0/aliyun-service").write_text(""),
                )
                and {"client_dir": "/etc/important"}
            ),
            "the client /etc/important/2.0/aliyun-service is there, but the init script /etc/init.d/aliyun-service is "
            "missing (assist:lookup:sysv_script). assist:lookup:client_dir is set to /etc/important (left out, it would "
            "be /usr/local/share/aliyun-assist)",
        ),
    ],
)
@pytest.mark.parametrize("verb", ["stop", "start", "restart", "enable", "disable"])
def test_a_path_a_setting_gives_is_refused_naming_the_setting_never_advising_its_removal(
    configure_loader_modules, settings, tmp_path, key, make, problem, verb
):
    root = image_minion(settings, tmp_path)
    settings.update(make(root))
    before = {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}
    recorder = Recorder({})
    assist.__salt__["cmd.run_all"] = recorder
    words = f"{problem}: {SAID}"
    assert assist.status()["client"]["incomplete"] == words
    assert (
        refusal(getattr(assist, verb))
        == f"{words}. Correct the setting, or leave it out for the vendor's path. Nothing was changed."
    )
    assert "remove" not in words and "half installed" not in words
    assert {path: path.read_bytes() for path in root.rglob("*") if path.is_file()} == before
    assert [c for c in recorder.commands() if c.split()[-1] in ("start", "stop", "restart")] == []


def test_a_unit_set_by_name_that_runs_a_missing_program_is_said_with_the_setting(systemd, settings, record, tmp_path):
    settings["systemd_unit"] = "keep.service"
    missing = tmp_path / "aliyun-assist" / "9.9" / "aliyun-service"
    record(
        {
            ("systemctl", "show"): (
                0,
                f"ActiveState=inactive\nLoadState=loaded\nFragmentPath=/etc/keep.service\nExecStart={{ path={missing} ; argv[]={missing} }}\n",
            )
        }
    )
    words = (
        f"the unit keep.service (/etc/keep.service) runs {missing}, which is missing. assist:lookup:systemd_unit is set "
        f"to keep.service (left out, the agent's own would be found): {SAID}"
    )
    assert assist.status()["client"]["incomplete"] == words
    for verb in ("stop", "start", "restart", "enable", "disable"):
        with pytest.raises(CommandExecutionError, match=re.escape(f"{words}. Correct the setting")):
            getattr(assist, verb)()


def test_a_watchdog_folder_a_setting_gives_is_refused_naming_the_setting(configure_loader_modules, settings, tmp_path):
    root = image_minion(settings, tmp_path, daemon_dir="/etc/important", daemon_path="/etc/important/assist_daemon")
    keep_conf(root)
    (root / "etc/important/assist_daemon").mkdir()  # not the watchdog's binary
    assist.__salt__["cmd.run_all"] = Recorder({})
    for verb in ("remove_daemon", "stop"):
        assert refusal(getattr(assist, verb)) == (
            "assist:lookup:daemon_dir: '/etc/important' is refused: it does not hold the watchdog binary "
            "/etc/important/assist_daemon. assist:lookup:daemon_dir is set to /etc/important (left out, it would be "
            "/usr/local/share/assist-daemon); assist:lookup:daemon_path is set to /etc/important/assist_daemon (left "
            f"out, it would be /usr/local/share/assist-daemon/assist_daemon): {SAID}; nothing was removed"
        )
    assert (root / "etc/important/keep.conf").read_text() == "keep me\n"
