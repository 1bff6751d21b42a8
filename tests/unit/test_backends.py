"""Each init system's backend, with its commands recorded instead of run.

The recorder answers as the real tools answer (the outputs and exit codes are the ones
measured on real systemd 252, UpStart 1.13.2 and 0.6.5, sysvinit 3.06 and Debian's
update-rc.d); the tests assert the exact commands a verb runs, how many, and the files
a start-at-boot change writes. The real tools are exercised by tests/system.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from unittest import mock

import pytest
from salt.exceptions import CommandExecutionError

from tests.unit.conftest import assist, assist_init, configure_loader_modules  # noqa: F401  (the loader mock)


class Recorder:
    """cmd.run_all that records each argv and answers from a table of replies: the
    first reply whose key is a prefix of the argv (a tuple) wins."""

    def __init__(self, replies, after=None):
        self.replies, self.calls = replies, []
        # {argv prefix: replies}: what the system answers once such a command has run
        self.after = after or {}

    def __call__(self, argv, **kwargs):
        assert kwargs["python_shell"] is False and kwargs["timeout"] > 0
        self.calls.append(list(argv))
        reply = next(
            (reply for prefix, reply in self.replies.items() if tuple(argv[: len(prefix)]) == prefix), (0, "")
        )
        for prefix, replies in self.after.items():
            if tuple(argv[: len(prefix)]) == prefix:
                self.replies = {**self.replies, **replies}
        return {"retcode": reply[0], "stdout": reply[1], "stderr": ""}

    def commands(self):
        return [" ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv)) for argv in self.calls]


@pytest.fixture
def record(configure_loader_modules):
    def install(replies, after=None):
        recorder = Recorder(replies, after)
        assist.__salt__["cmd.run_all"] = recorder
        return recorder

    return install


# --------------------------------------------------------------------------- systemd


SHOW = "systemctl show aliyun.service --property=ActiveState,SubState,LoadState,FragmentPath,ExecStart"
SYSTEMD_ACTIVE = {
    ("systemctl", "show"): (0, "ActiveState=active\nLoadState=loaded\n"),
    ("systemctl", "is-enabled"): (0, "enabled\n"),
}
SYSTEMD_STOPPED = {
    ("systemctl", "show"): (0, "ActiveState=inactive\nLoadState=loaded\n"),
    ("systemctl", "is-enabled"): (1, "disabled\n"),
}


@pytest.fixture
def systemd(settings, tmp_path, configure_loader_modules, unit_dirs):
    """A minion whose booted systemd runs the client from the vendor's aliyun.service;
    the watchdog lives in tmp_path (the host has none) so its removal can be recorded too,
    and so does the folder its removal changes (unit_dirs: not this host's)."""
    daemon_dir = tmp_path / "assist-daemon"
    settings.update(
        init_system="systemd",
        client_dir=str(tmp_path / "aliyun-assist"),  # no client process of this host's counts
        daemon_dir=str(daemon_dir),
        daemon_path=str(daemon_dir / "assist_daemon"),
        verify_seconds=0.2,
    )
    assist.__context__["salt.utils.systemd.booted"] = True  # salt.utils.systemd.booted's cache
    install_unit(unit_dirs[0], "aliyun.service", install_client(tmp_path / "aliyun-assist"))
    return daemon_dir


@pytest.fixture
def unit_dirs(tmp_path, monkeypatch):
    """systemd's unit folders (/etc/systemd/system first), in tmp_path: the backend finds
    the agent's unit there, never in this host's folders."""
    dirs = [tmp_path / "units" / name for name in ("etc", "run", "lib")]
    monkeypatch.setattr(assist_init.Systemd, "UNIT_DIRS", tuple(map(str, dirs)))
    return dirs


def install_client(client_dir, version="2.2.3.578"):
    program = client_dir / version / "aliyun-service"
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text("#!/bin/sh\n")
    return program


def install_unit(directory, name, program):
    """A unit file as the vendor's installer writes it (the parts that matter)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = f"[Unit]\nConditionFileIsExecutable={program}\n\n[Service]\nExecStart={program}\nRestart=on-failure\n"
    (directory / name).write_text(text)
    return directory / name


def install_watchdog(daemon_dir):
    daemon_dir.mkdir(parents=True)
    (daemon_dir / "assist_daemon").write_text("#!/bin/sh\n")
    (daemon_dir / "assist_daemon").chmod(0o755)


def test_systemd_status_asks_systemctl_twice(systemd, record):
    recorder = record(SYSTEMD_ACTIVE)
    status = assist.status()
    assert status["client"] | {"version": None, "service_evidence": None} == {
        "service": "aliyun.service", "service_evidence": None, "installed": True, "incomplete": None,
        "running": True, "restart_pending": False, "enabled": True, "version": None, "pids": [],
    }
    assert recorder.commands() == [
        SHOW,
        "systemctl is-enabled aliyun.service",
    ]


def test_systemd_full_stop_asks_once_then_runs_the_vendors_order(systemd, record):
    install_watchdog(systemd)
    recorder = record(SYSTEMD_ACTIVE, after={("systemctl", "stop"): SYSTEMD_STOPPED})
    ret = assist.stop()
    assert recorder.commands() == [
        SHOW,  # is the agent installed
        "assist_daemon --stop",
        "assist_daemon --delete",
        SHOW,
        "systemctl stop aliyun.service",
        SHOW,
    ]
    assert ret["changes"] == {"daemon": {"old": "installed", "new": "absent"}, "client": {"old": "running", "new": "stopped"}}
    assert not systemd.exists()


def test_systemd_stop_again_is_one_command(systemd, record):
    recorder = record(SYSTEMD_STOPPED)
    assert assist.stop()["changes"] == {}
    assert recorder.commands() == [SHOW]


# The vendor's unit restarts a client that crashed or was killed only after 120 s
# (Restart=on-failure, RestartSec=120); meanwhile systemd says this, and nothing runs.
SYSTEMD_RESTART_PENDING = {
    ("systemctl", "show"): (0, "ActiveState=activating\nSubState=auto-restart\nLoadState=loaded\n"),
    ("systemctl", "is-enabled"): (0, "enabled\n"),
}


def test_systemd_a_pending_restart_is_not_running_and_status_says_it_is_pending(systemd, record):
    record(SYSTEMD_RESTART_PENDING)
    client = assist.status()["client"]
    assert (client["running"], client["restart_pending"], client["pids"]) == (False, True, [])
    assert assist.is_running() is False


def test_systemd_a_pending_restart_drifts_from_a_dead_policy(systemd, record):
    record(SYSTEMD_RESTART_PENDING)
    assist.__pillar__["assist"] = {"client": "dead", "daemon": "absent", "enable": True}
    audit = assist.audit()
    assert audit["agent"]["client"] == "restart pending"
    assert audit["drift"] == ["client is down and its init system will restart it, policy says dead"]
    assert audit["result"] is False


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


def test_systemd_start_is_three_commands(systemd, record):
    recorder = record(SYSTEMD_STOPPED, after={("systemctl", "start"): SYSTEMD_ACTIVE})
    assert assist.start()["changes"] == {"client": {"old": "stopped", "new": "running"}}
    assert recorder.commands() == [
        SHOW,
        "systemctl start aliyun.service",
        SHOW,
    ]


@pytest.mark.parametrize("verb, command", [(assist.enable, "systemctl enable aliyun.service"), (assist.disable, "systemctl disable aliyun.service")])
def test_systemd_start_at_boot_uses_systemctl_and_is_read_again(systemd, record, verb, command):
    before, after = (SYSTEMD_STOPPED, SYSTEMD_ACTIVE) if verb is assist.enable else (SYSTEMD_ACTIVE, SYSTEMD_STOPPED)
    recorder = record(before, after={tuple(command.split()[:2]): after})
    ret = verb()
    assert recorder.commands()[-2:] == [command, "systemctl is-enabled aliyun.service"]
    assert ret["changes"] == {"enabled": {"old": verb is assist.disable, "new": verb is assist.enable}}


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


def test_systemd_a_unit_set_by_name_that_systemd_does_not_know_is_said_with_the_setting(systemd, settings, record, tmp_path):
    # The client program is there (the fixture's), the unit named in the setting is not.
    settings["systemd_unit"] = "aliyun-assist.service"
    record({("systemctl", "show"): (0, "ActiveState=inactive\nLoadState=not-found\n")})
    program = tmp_path / "aliyun-assist" / "2.2.3.578" / "aliyun-service"
    assert assist.status()["client"]["incomplete"] == (
        f"the client {program} is there, but the unit aliyun-assist.service is missing (assist:lookup:systemd_unit)"
    )


# The agent's unit, found: the vendor's installer writes aliyun.service or, where its own
# systemd test fails (/bin/sh is dash, no binutils), aliyun-service.service.


def test_systemd_finds_the_unit_the_installer_wrote_under_dash(systemd, unit_dirs, record):
    (unit_dirs[0] / "aliyun.service").rename(unit_dirs[0] / "aliyun-service.service")
    recorder = record(SYSTEMD_ACTIVE, after={("systemctl", "stop"): SYSTEMD_STOPPED})
    client = assist.status()["client"]
    assert client["service"] == "aliyun-service.service"
    assert client["service_evidence"] == f"found {unit_dirs[0]}/aliyun-service.service (the vendor's name)"
    assert recorder.commands()[0] == SHOW.replace("aliyun.service", "aliyun-service.service")
    assist.stop()
    assert "systemctl stop aliyun-service.service" in recorder.commands()


def test_systemd_finds_a_unit_of_another_name_by_its_exec_start(systemd, unit_dirs, tmp_path, record):
    (unit_dirs[0] / "aliyun.service").unlink()
    install_unit(unit_dirs[2], "cloud-assistant.service", tmp_path / "aliyun-assist" / "2.2.3.578" / "aliyun-service")
    install_unit(unit_dirs[2], "other.service", tmp_path / "elsewhere" / "aliyun-service")
    record(SYSTEMD_ACTIVE)
    client = assist.status()["client"]
    assert (client["service"], client["service_evidence"]) == (
        "cloud-assistant.service", f"found {unit_dirs[2]}/cloud-assistant.service (its ExecStart runs the agent)"
    )


def test_systemd_of_two_units_takes_the_one_whose_program_is_there(systemd, unit_dirs, tmp_path, record):
    """An agent updated in place: the old version's unit is left, its folder is gone."""
    install_unit(unit_dirs[0], "aliyun-service.service", tmp_path / "aliyun-assist" / "2.2.2.100" / "aliyun-service")
    record(SYSTEMD_ACTIVE)
    assert assist.status()["client"]["service"] == "aliyun.service"


def test_systemd_two_units_of_the_agent_are_an_error_that_runs_nothing(systemd, unit_dirs, tmp_path, record):
    install_unit(unit_dirs[1], "aliyun-service.service", install_client(tmp_path / "aliyun-assist", "2.2.2.100"))
    recorder = record(SYSTEMD_ACTIVE)
    with pytest.raises(CommandExecutionError) as error:
        assist.stop()
    assert str(error.value) == (
        f"more than one systemd unit is the agent's: aliyun-service.service ({unit_dirs[1]}/aliyun-service.service), "
        f"aliyun.service ({unit_dirs[0]}/aliyun.service); set assist:lookup:systemd_unit to the one in use; "
        "nothing was changed"
    )
    assert recorder.commands() == []


def test_systemd_a_unit_in_etc_shadows_the_same_name_elsewhere(systemd, unit_dirs, tmp_path, record):
    install_unit(unit_dirs[2], "aliyun.service", tmp_path / "aliyun-assist" / "gone" / "aliyun-service")
    record(SYSTEMD_ACTIVE)
    assert assist.status()["client"]["service_evidence"] == f"found {unit_dirs[0]}/aliyun.service (the vendor's name)"


def test_systemd_without_a_unit_of_the_agent_says_where_it_looked(systemd, unit_dirs, record, tmp_path):
    (unit_dirs[0] / "aliyun.service").unlink()
    record({("systemctl", "show"): (0, "ActiveState=inactive\nLoadState=not-found\n")})
    client = assist.status()["client"]
    assert client["service_evidence"].startswith("no unit of the agent found (neither aliyun.service nor aliyun-service.service")
    # The fixture's client program is there: half an agent.
    assert client["incomplete"] == (
        f"the client {tmp_path}/aliyun-assist/2.2.3.578/aliyun-service is there, but the agent's unit (aliyun.service or "
        "aliyun-service.service, or one whose ExecStart runs the agent) is missing (assist:lookup:systemd_unit)"
    )


def test_systemd_a_unit_set_in_the_settings_is_taken_as_it_is(systemd, settings, record):
    settings["systemd_unit"] = "my-agent.service"
    recorder = record(SYSTEMD_ACTIVE)
    assert assist.status()["client"]["service_evidence"] == "set by assist:lookup:systemd_unit"
    assert recorder.commands()[0].startswith("systemctl show my-agent.service ")


def test_systemd_in_an_image_refuses_to_act(settings, tmp_path, record):
    (tmp_path / "run" / "systemd" / "system").mkdir(parents=True)
    settings.update(root=str(tmp_path), init_system="systemd")
    recorder = record({})
    with pytest.raises(CommandExecutionError, match="systemctl acts on this host's systemd"):
        assist.stop()
    assert recorder.calls == []


# --------------------------------------------------------------------------- UpStart


UPSTART_JOB = """# aliyun-service - Aliyun Assist
start on runlevel [2345]
stop on runlevel [!2345]

respawn

exec /usr/local/share/aliyun-assist/2.5.3.650/aliyun-service
"""


@pytest.fixture
def upstart(settings, tmp_path):
    """An UpStart root: /sbin/initctl (never run: its commands are recorded) and the
    vendor's job file."""
    (tmp_path / "sbin").mkdir()
    (tmp_path / "sbin" / "initctl").write_text("#!/bin/sh\nexit 99\n")
    (tmp_path / "sbin" / "initctl").chmod(0o755)
    (tmp_path / "etc" / "init").mkdir(parents=True)
    (tmp_path / "etc" / "init" / "aliyun-service.conf").write_text(UPSTART_JOB)
    client = tmp_path / "usr" / "local" / "share" / "aliyun-assist" / "2.5.3.650" / "aliyun-service"
    client.parent.mkdir(parents=True)
    client.write_text("#!/bin/sh\n")  # the program the job runs: never run, its presence counts
    settings.update(root=str(tmp_path), run_image_programs=True, verify_seconds=0.2)
    return tmp_path / "etc" / "init"


def initctl(version, running=True):
    """Replies of a real initctl (measured), keyed by the argv after the initctl path."""

    def reply(argv, **kwargs):
        args = argv[1:]
        if args == ["--version"]:
            return {"retcode": 0, "stdout": f"initctl (upstart {version})\n", "stderr": ""}
        if args == ["status", "aliyun-service"]:
            out = "aliyun-service start/running, process 4\n" if running else "aliyun-service stop/waiting\n"
            return {"retcode": 0, "stdout": out, "stderr": ""}
        return {"retcode": 0, "stdout": "", "stderr": ""}

    return reply


@pytest.fixture
def upstart_version(record):
    def install(version, running=True):
        recorder = record({})
        answer = initctl(version, running)

        def run_all(argv, **kwargs):
            recorder(argv, **kwargs)
            return answer(argv, **kwargs)

        assist.__salt__["cmd.run_all"] = run_all
        return recorder

    return install


def test_upstart_is_detected_and_asked_with_initctl(upstart, upstart_version):
    recorder = upstart_version("1.13.2")
    status = assist.status()
    assert status["init"] == {"system": "upstart", "evidence": "initctl --version names upstart"}
    assert status["client"]["running"] is True and status["client"]["enabled"] is True
    assert recorder.commands() == ["initctl --version", "initctl status aliyun-service"]


def test_upstart_stop_and_start_use_initctl(upstart, upstart_version):
    recorder = upstart_version("1.13.2")
    backend = assist._backend()[1]
    backend.control("stop")
    backend.control("start")
    assert recorder.commands()[-2:] == ["initctl stop aliyun-service", "initctl start aliyun-service"]


def test_upstart_stopped_says_stop_waiting(upstart, upstart_version):
    upstart_version("1.13.2", running=False)
    assert assist.is_running() is False


def test_upstart_1_13_disable_writes_manual_to_the_override_and_enable_removes_it(upstart, upstart_version):
    upstart_version("1.13.2")
    assert assist.disable()["changes"] == {"enabled": {"old": True, "new": False}}
    assert (upstart / "aliyun-service.override").read_text() == "manual\n"
    assert (upstart / "aliyun-service.conf").read_text() == UPSTART_JOB
    assert assist.status()["client"]["enabled"] is False
    assert assist.enable()["changes"] == {"enabled": {"old": False, "new": True}}
    assert not (upstart / "aliyun-service.override").exists()


def test_upstart_1_13_keeps_other_override_lines(upstart, upstart_version):
    upstart_version("1.13.2")
    (upstart / "aliyun-service.override").write_text("env LANG=C\n")
    assist.disable()
    assert (upstart / "aliyun-service.override").read_text() == "env LANG=C\nmanual\n"
    assist.enable()
    assert (upstart / "aliyun-service.override").read_text() == "env LANG=C\n"


def test_upstart_1_13_honours_manual_in_the_conf(upstart, upstart_version):
    upstart_version("1.13.2")
    (upstart / "aliyun-service.conf").write_text(UPSTART_JOB + "manual\n")
    assert assist.status()["client"]["enabled"] is False
    assist.enable()
    assert (upstart / "aliyun-service.conf").read_text() == UPSTART_JOB
    assert assist.status()["client"]["enabled"] is True


def test_upstart_0_6_5_disable_comments_out_start_on_and_enable_restores_it_byte_for_byte(upstart, upstart_version):
    # 0.6.5 (RHEL/CentOS 6) reads no .override, and `manual` is a syntax error there.
    upstart_version("0.6.5")
    assert assist.disable()["changes"] == {"enabled": {"old": True, "new": False}}
    conf = (upstart / "aliyun-service.conf").read_text()
    assert "#assist-salt-off# start on runlevel [2345]\n" in conf
    assert "manual" not in conf and not (upstart / "aliyun-service.override").exists()
    assert assist.status()["client"]["enabled"] is False
    assert assist.disable()["changes"] == {}
    assert assist.enable()["changes"] == {"enabled": {"old": False, "new": True}}
    assert (upstart / "aliyun-service.conf").read_text() == UPSTART_JOB


def test_upstart_0_6_5_a_start_on_stanza_over_several_lines_is_turned_off_whole(upstart, upstart_version):
    upstart_version("0.6.5")
    job = "start on (local-filesystems\n          and net-device-up IFACE!=lo)\nstop on runlevel [016]\nexec /bin/client\n"
    (upstart / "aliyun-service.conf").write_text(job)
    assist.disable()
    lines = (upstart / "aliyun-service.conf").read_text().splitlines()
    assert lines[:3] == ["#assist-salt-off# start on (local-filesystems", "#assist-salt-off#           and net-device-up IFACE!=lo)", "stop on runlevel [016]"]
    assist.enable()
    assert (upstart / "aliyun-service.conf").read_text() == job


def test_upstart_0_6_5_a_job_without_start_on_is_refused_naming_the_file(upstart, upstart_version):
    upstart_version("0.6.5")
    job = "# started by hand only\nexec /bin/client\n"
    (upstart / "aliyun-service.conf").write_text(job)
    assert assist.status()["client"]["enabled"] is False
    with pytest.raises(CommandExecutionError, match=r"cannot change start at boot in /etc/init/aliyun-service.conf: no `start on` stanza that assist-salt turned off.*Nothing was changed"):
        assist.enable()
    assert (upstart / "aliyun-service.conf").read_text() == job


def test_upstart_0_6_5_a_job_with_start_on_both_live_and_turned_off_is_refused(upstart, upstart_version):
    upstart_version("0.6.5")
    job = "#assist-salt-off# start on runlevel [2345]\nstart on startup\nexec /bin/client\n"
    (upstart / "aliyun-service.conf").write_text(job)
    with pytest.raises(CommandExecutionError, match="`start on` both on and off"):
        assist.disable()
    assert (upstart / "aliyun-service.conf").read_text() == job


def test_upstart_job_files_keep_their_mode(upstart, upstart_version):
    upstart_version("0.6.5")
    (upstart / "aliyun-service.conf").chmod(0o600)
    assist.disable()
    assert (upstart / "aliyun-service.conf").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in upstart.iterdir()) == ["aliyun-service.conf"]


# --------------------------------------------------------------------------- sysvinit


def sysvinit_backend(cfg_overrides, funcs):
    from tests.unit.conftest import assist_settings

    cfg = assist_settings.load(cfg_overrides)
    return assist_init.Sysvinit(cfg, funcs, {}, "set by assist:lookup:init_system")


@pytest.mark.parametrize(
    "tool, on, commands",
    [
        ("update-rc.d", True, ["update-rc.d aliyun-service defaults", "update-rc.d aliyun-service enable"]),
        ("update-rc.d", False, ["update-rc.d aliyun-service defaults", "update-rc.d aliyun-service disable"]),
        ("chkconfig", True, ["chkconfig --add aliyun-service", "chkconfig aliyun-service on"]),
        ("chkconfig", False, ["chkconfig --add aliyun-service", "chkconfig aliyun-service off"]),
    ],
)
def test_sysvinit_start_at_boot_uses_the_systems_own_tool(tool, on, commands):
    # On this host no aliyun-service links exist, so the script is registered first.
    recorder = Recorder({})
    backend = sysvinit_backend({}, {"cmd.run_all": recorder})
    with mock.patch("salt.utils.path.which", lambda name: f"/usr/sbin/{name}" if name == tool else None):
        backend.set_enabled(on)
    assert recorder.commands() == commands


def test_sysvinit_in_an_image_sets_links_itself_and_runs_no_tool(tmp_path):
    (tmp_path / "etc" / "init.d").mkdir(parents=True)
    (tmp_path / "etc" / "init.d" / "aliyun-service").write_text("#!/bin/sh\n")
    recorder = Recorder({})
    backend = sysvinit_backend({"root": str(tmp_path)}, {"cmd.run_all": recorder})
    backend.set_enabled(True)
    assert os.readlink(tmp_path / "etc" / "rc2.d" / "S50aliyun-service") == "../init.d/aliyun-service"
    assert os.readlink(tmp_path / "etc" / "rc0.d" / "K02aliyun-service") == "../init.d/aliyun-service"
    assert backend.enabled() is True
    backend.set_enabled(False)
    assert sorted(os.listdir(tmp_path / "etc" / "rc3.d")) == ["K50aliyun-service"]
    assert backend.enabled() is False
    assert recorder.calls == []


def test_sysvinit_commands_are_the_init_scripts_verbs(tmp_path):
    recorder = Recorder({})
    backend = sysvinit_backend({"root": str(tmp_path), "run_image_programs": True}, {"cmd.run_all": recorder})
    for verb in ("stop", "start", "restart"):
        backend.control(verb)
    script = str(tmp_path / "etc" / "init.d" / "aliyun-service")
    assert recorder.calls == [[script, "stop"], [script, "start"], [script, "restart"]]


@pytest.mark.parametrize("retcode, running", [(0, True), (1, False), (2, False), (3, False)])
def test_sysvinit_status_follows_the_lsb_exit_codes(tmp_path, retcode, running):
    backend = sysvinit_backend({"root": str(tmp_path), "run_image_programs": True}, {"cmd.run_all": Recorder({(): (retcode, "")})})
    assert backend.active() is running


def test_sysvinit_status_exit_4_is_an_error_naming_the_command(tmp_path):
    backend = sysvinit_backend({"root": str(tmp_path), "run_image_programs": True}, {"cmd.run_all": Recorder({(): (4, "")})})
    with pytest.raises(CommandExecutionError, match=r"asking the init script failed: `.*/etc/init.d/aliyun-service status` exited 4"):
        backend.active()


# --------------------------------------------------------------------------- every backend


def test_every_init_system_has_a_backend_answering_the_same_questions():
    questions = {"service", "check_ready", "control", "active", "activity", "enabled", "set_enabled", "client_pids", "version"}
    assert set(assist_init.BACKENDS) == {"systemd", "upstart", "sysvinit", "windows"}
    for name, backend in assist_init.BACKENDS.items():
        assert backend.name == name
        assert all(callable(getattr(backend, q)) for q in questions), name


def test_a_process_in_another_root_is_not_this_systems(tmp_path):
    # A container's or chroot's agent runs the same path; from the host it is not the
    # host's own, and a stop on the host must neither count nor kill it.
    program = tmp_path / "aliyun-service"
    program.write_text("import os, sys, time\nif len(sys.argv) > 1:\n    os.chroot(sys.argv[1])\nprint(flush=True)\ntime.sleep(60)\n")
    jail = tmp_path / "jail"
    jail.mkdir()
    # Without root, chroot(2) is allowed in a user namespace of the process's own.
    own_root = [] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user"]
    here = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE)
    chrooted = subprocess.Popen([*own_root, sys.executable, str(program), str(jail)], stdout=subprocess.PIPE)
    try:
        for proc in (here, chrooted):
            assert proc.stdout.readline() == b"\n"  # started, and chrooted where asked
        assert assist_init.program_pids(str(program)) == [here.pid]
    finally:
        for proc in (here, chrooted):
            proc.kill()
            proc.wait()


def test_a_zombie_is_not_a_live_process(tmp_path):
    # A client killed but not yet reaped by its parent must not count as running.
    program = tmp_path / "aliyun-service"
    program.write_text("import time\nprint(flush=True)\ntime.sleep(60)\n")
    live = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE)
    dead = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE)
    try:
        for proc in (live, dead):
            proc.stdout.readline()
        dead.kill()
        assert wait_until_zombie(dead.pid)
        assert assist_init.program_pids(str(program)) == [live.pid]
    finally:
        for proc in (live, dead):
            proc.kill()
            proc.wait()


def wait_until_zombie(pid, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            if handle.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return True
        time.sleep(0.01)
    return False


def test_sysvinit_verbs_run_the_fewest_commands(settings, tmp_path, record):
    # status 1, full stop 5 (the watchdog's two verbs first), stop again 1, start 3.
    (tmp_path / "sbin").mkdir()
    (tmp_path / "sbin" / "init").write_bytes(b"INIT_VERSION=sysvinit-3.06")
    script = tmp_path / "etc" / "init.d" / "aliyun-service"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\nexit 99\n")
    script.chmod(0o755)
    install_watchdog(tmp_path / "usr" / "local" / "share" / "assist-daemon")
    settings.update(root=str(tmp_path), run_image_programs=True, verify_seconds=0.2)
    state = {"running": True}

    def init_script(argv, **kwargs):
        recorder.calls.append(list(argv))
        if argv[-1] in ("start", "stop"):
            state["running"] = argv[-1] == "start"
        return {"retcode": 0 if argv[-1] != "status" or state["running"] else 3, "stdout": "", "stderr": ""}

    recorder = record({})
    assist.__salt__["cmd.run_all"] = init_script
    counts = {}
    for verb in ("status", "stop", "stop again", "start"):
        recorder.calls.clear()
        getattr(assist, verb.split()[0])()
        counts[verb] = recorder.commands()
    assert counts == {
        "status": ["aliyun-service status"],
        "stop": ["assist_daemon --stop", "assist_daemon --delete", "aliyun-service status", "aliyun-service stop", "aliyun-service status"],
        "stop again": ["aliyun-service status"],
        "start": ["aliyun-service status", "aliyun-service start", "aliyun-service status"],
    }


def test_restart_of_a_stopped_client_starts_it(upstart, upstart_version):
    # Real UpStart: `initctl restart` of a stopped job exits 1, "initctl: Unknown instance:".
    recorder = upstart_version("1.13.2", running=False)
    with pytest.raises(CommandExecutionError, match="is not running 0.2 s later"):
        assist.restart()  # the recorder never starts anything: only the command matters here
    commands = recorder.commands()
    assert "initctl start aliyun-service" in commands and "initctl restart aliyun-service" not in commands


# --------------------------------------------------------------------------- no agent, half an agent


# What systemd 252 says of a unit no file defines.
SYSTEMD_NO_UNIT = {
    ("systemctl", "show"): (0, "ActiveState=inactive\nSubState=dead\nLoadState=not-found\nFragmentPath=\nExecStart=\n"),
    ("systemctl", "is-enabled"): (1, ""),
}


def systemd_unit_running(program):
    """systemctl show of the vendor's unit that runs ``program`` (the format of systemd 252)."""
    return {
        ("systemctl", "show"): (0, (
            "ActiveState=inactive\nSubState=dead\nLoadState=loaded\nFragmentPath=/etc/systemd/system/aliyun.service\n"
            f"ExecStart={{ path={program} ; argv[]={program} ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; "
            "pid=0 ; code=(null) ; status=0/0 }\n"
        )),
        ("systemctl", "is-enabled"): (0, "enabled\n"),
    }


def client_program(client_dir, version="2.2.3.578"):
    return client_dir / version / "aliyun-service"


# The agent's unit, as systemd and the backend see it when none is installed.
NO_UNIT = (
    "the agent's unit (aliyun.service or aliyun-service.service, or one whose ExecStart runs the agent) "
    "(assist:lookup:systemd_unit)"
)


@pytest.fixture
def no_agent(systemd, unit_dirs, tmp_path):
    """The systemd fixture's minion with the agent uninstalled: no unit file, no client."""
    (unit_dirs[0] / "aliyun.service").unlink()
    shutil.rmtree(tmp_path / "aliyun-assist")
    return systemd


def test_systemd_without_the_agent_status_says_not_installed_from_one_question(no_agent, record):
    recorder = record(SYSTEMD_NO_UNIT)
    assert assist.status()["client"] | {"service_evidence": None} == {
        "service": "aliyun.service", "service_evidence": None, "installed": False, "incomplete": None,
        "running": False, "restart_pending": False, "enabled": False, "version": None, "pids": [],
    }
    assert assist.is_running() is False
    assert recorder.commands() == [SHOW, SHOW]


def test_systemd_without_the_agent_stop_disable_and_remove_daemon_succeed_and_run_nothing(no_agent, record):
    recorder = record(SYSTEMD_NO_UNIT)
    why = f"The agent is not installed ({NO_UNIT} and the client under {{}} are missing)"
    client_dir = assist._settings()["client_dir"]
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
        r"and the client under \S+ are missing. Install the Cloud Assistant agent "
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
        "the agent is not installed, policy says running", "watchdog is absent, policy says present",
    ]


def test_systemd_a_unit_whose_program_is_gone_is_said_with_both_paths_and_no_verb_acts(systemd, record, tmp_path):
    program = client_program(tmp_path / "aliyun-assist")
    program.unlink()
    recorder = record(systemd_unit_running(program))
    words = f"the unit aliyun.service (/etc/systemd/system/aliyun.service) runs {program}, which is missing"
    client = assist.status()["client"]
    assert (client["installed"], client["incomplete"]) == (False, words)
    for verb in (assist.start, assist.stop, assist.disable, assist.restart):
        with pytest.raises(CommandExecutionError, match=rf"^the Cloud Assistant agent is half installed: {re.escape(words)}\. Reinstall"):
            verb()
    assert assist.audit()["drift"][0] == f"the agent is half installed: {words}"
    assert not [c for c in recorder.commands() if c.split()[1] in ("start", "stop", "restart", "disable")]


def test_systemd_a_program_without_its_unit_is_said_with_the_program_and_the_setting(systemd, settings, record, tmp_path):
    settings["systemd_unit"] = "aliyun.service"  # named: systemd knows no such unit
    program = client_program(tmp_path / "aliyun-assist")
    record(SYSTEMD_NO_UNIT)
    assert assist.status()["client"]["incomplete"] == (
        f"the client {program} is there, but the unit aliyun.service is missing (assist:lookup:systemd_unit)"
    )
    with pytest.raises(CommandExecutionError, match="half installed: the client .* is there, but the unit aliyun.service is missing"):
        assist.stop()


def test_systemd_a_unit_and_the_program_it_runs_are_an_agent_installed(systemd, record, tmp_path):
    program = client_program(tmp_path / "aliyun-assist")
    record(systemd_unit_running(program))
    assert (assist.status()["client"]["installed"], assist.status()["client"]["incomplete"]) == (True, None)


def test_upstart_without_its_job_is_not_installed_and_initctl_is_asked_only_its_version(upstart, upstart_version, tmp_path):
    (upstart / "aliyun-service.conf").unlink()
    (tmp_path / "usr" / "local" / "share" / "aliyun-assist" / "2.5.3.650" / "aliyun-service").unlink()
    recorder = upstart_version("1.13.2")
    client = assist.status()["client"]
    assert (client["installed"], client["incomplete"], client["running"], client["enabled"]) == (False, None, False, False)
    assert assist.stop()["changes"] == {} and assist.disable()["changes"] == {}
    with pytest.raises(
        CommandExecutionError,
        match=r"^starting the client failed: .* not installed: the job /etc/init/aliyun-service.conf \(assist:lookup:upstart_job\) "
        "and the client under /usr/local/share/aliyun-assist are missing",
    ):
        assist.start()
    assert set(recorder.commands()) == {"initctl --version"}
    assert sorted(p.name for p in upstart.iterdir()) == []


def test_upstart_a_job_whose_exec_path_is_gone_is_said_and_its_files_are_left_alone(upstart, upstart_version, tmp_path):
    (tmp_path / "usr" / "local" / "share" / "aliyun-assist" / "2.5.3.650" / "aliyun-service").unlink()
    recorder = upstart_version("1.13.2")
    words = "the job /etc/init/aliyun-service.conf runs /usr/local/share/aliyun-assist/2.5.3.650/aliyun-service, which is missing"
    assert assist.status()["client"]["incomplete"] == words
    for verb in (assist.disable, assist.start, assist.stop):
        with pytest.raises(CommandExecutionError, match=re.escape(words)):
            verb()
    assert (upstart / "aliyun-service.conf").read_text() == UPSTART_JOB
    assert not (upstart / "aliyun-service.override").exists()
    assert recorder.commands() == ["initctl --version"]


def test_upstart_a_folder_in_the_way_of_the_override_is_named_and_nothing_changes(upstart, upstart_version):
    upstart_version("1.13.2")
    (upstart / "aliyun-service.override").mkdir()
    with pytest.raises(
        CommandExecutionError,
        match=r"^reading the upstart files failed: cannot read /etc/init/aliyun-service.override: Is a directory; "
        "a folder is in the way where a file belongs",
    ):
        assist.disable()
    assert (upstart / "aliyun-service.conf").read_text() == UPSTART_JOB
    assert sorted(p.name for p in upstart.iterdir()) == ["aliyun-service.conf", "aliyun-service.override"]


def test_sysvinit_a_tool_change_that_did_not_take_is_an_error_naming_the_command(tmp_path):
    # update-rc.d exits 0, yet an S link is still there: the change is not reported as made.
    (tmp_path / "etc" / "rc2.d").mkdir(parents=True)
    (tmp_path / "etc" / "rc2.d" / "S50aliyun-service").symlink_to("../init.d/aliyun-service")
    recorder = Recorder({})
    backend = sysvinit_backend({"root": str(tmp_path)}, {"cmd.run_all": recorder})
    with mock.patch.object(assist_init.Sysvinit, "_boot_tool", return_value="update-rc.d"):
        with pytest.raises(CommandExecutionError, match="^turning start at boot off did not take: `update-rc.d aliyun-service disable` succeeded"):
            assist._boot_step(backend, False, test=False)
    assert recorder.commands() == ["update-rc.d aliyun-service disable"]


def test_a_file_change_refused_half_way_puts_back_what_it_renamed(tmp_path):
    # The second rename fails (its folder is gone): the first is undone, the staged link removed.
    cfg = {"root": "/"}
    (tmp_path / "a").write_text("a")
    change = assist_init.FileChange(cfg, "turning start at boot off")
    change.rename(str(tmp_path / "a"), str(tmp_path / "b"))
    change.symlink("target", str(tmp_path / "c"))
    change.rename(str(tmp_path / "a2"), str(tmp_path / "gone" / "x"))
    with pytest.raises(CommandExecutionError, match=r"^turning start at boot off failed: cannot rename .*/a2 to .*/gone/x: No such file"):
        change.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_a_file_change_whose_first_phase_fails_changes_nothing(tmp_path):
    # A file stands where the new link's folder belongs: refused before any rename.
    cfg = {"root": "/"}
    (tmp_path / "S50x").write_text("")
    (tmp_path / "rc3.d").write_text("not a folder")
    change = assist_init.FileChange(cfg, "turning start at boot on")
    change.rename(str(tmp_path / "S50x"), str(tmp_path / "K50x"))
    change.symlink("target", str(tmp_path / "rc2.d" / "S50x"))
    with pytest.raises(CommandExecutionError, match=r"cannot make the folder .*/rc3.d: File exists; something else is in the way"):
        change.symlink("target", str(tmp_path / "rc3.d" / "S50x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S50x", "rc3.d"]


def test_a_client_process_left_running_with_nothing_of_the_agent_installed_is_half_an_agent(tmp_path):
    # An uninstall that did not stop the client: its process runs a program no longer there.
    backend = sysvinit_backend({"root": str(tmp_path), "run_image_programs": True}, {"cmd.run_all": Recorder({})})
    assert backend.installation(pids=[4242]) == {
        "installed": False,
        "registered": False,
        "incomplete": "client process(es) [4242] run, but neither the client program nor the init script "
        "/etc/init.d/aliyun-service is installed",
    }
    assert backend.installation() == {"installed": False, "registered": False, "incomplete": None}


@pytest.mark.root  # gives the file to another owner
def test_a_file_change_keeps_the_mode_and_owner_of_the_file_it_rewrites(tmp_path):
    # As salt.utils.atomicfile.atomic_open does: a job file an operator gave to another
    # owner, or made private, stays so after start at boot is turned on or off.
    job = tmp_path / "aliyun-service.override"
    job.write_text("manual\n")
    os.chmod(job, 0o640)
    os.chown(job, 4242, 4343)
    change = assist_init.FileChange({"root": "/"}, "turning start at boot on")
    change.write(str(job), "")
    change.commit()
    written = os.stat(job)
    assert (job.read_text(), written.st_mode & 0o7777, written.st_uid, written.st_gid) == ("", 0o640, 4242, 4343)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aliyun-service.override"]
