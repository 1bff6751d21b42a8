"""The systemd backend (Systemd): the agent's unit found under the names the vendor's
installer gives, the commands each verb runs and how many, and an agent without its unit
or its program, said with its paths. The commands are recorded (tests/unit/recorder.py).
"""

import re

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.refusals import refusal
from tests.unit.conftest import assist, configure_loader_modules  # noqa: F401  (the loader mock)
from tests.unit.recorder import (
    SHOW,
    SYSTEMD_ACTIVE,
    SYSTEMD_NO_UNIT,
    SYSTEMD_RESTART_PENDING,
    SYSTEMD_STOPPED,
    install_client,
    install_unit,
    install_watchdog,
)


def test_systemd_status_asks_systemctl_twice(systemd, record):
    recorder = record(SYSTEMD_ACTIVE)
    status = assist.status()
    assert status["client"] | {"version": None, "service_evidence": None} == {
        "service": "aliyun.service",
        "service_evidence": None,
        "installed": True,
        "incomplete": None,
        "running": True,
        "restart_pending": False,
        "enabled": True,
        "version": None,
        "pids": [],
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


def test_systemd_a_pending_restart_is_not_running_and_status_says_it_is_pending(systemd, record):
    record(SYSTEMD_RESTART_PENDING)
    client = assist.status()["client"]
    assert (client["running"], client["restart_pending"], client["pids"]) == (False, True, [])
    assert assist.is_running() is False


def test_systemd_start_is_three_commands(systemd, record):
    recorder = record(SYSTEMD_STOPPED, after={("systemctl", "start"): SYSTEMD_ACTIVE})
    assert assist.start()["changes"] == {"client": {"old": "stopped", "new": "running"}}
    assert recorder.commands() == [
        SHOW,
        "systemctl start aliyun.service",
        SHOW,
    ]


@pytest.mark.parametrize(
    "verb, command", [(assist.enable, "systemctl enable aliyun.service"), (assist.disable, "systemctl disable aliyun.service")]
)
def test_systemd_start_at_boot_uses_systemctl_and_is_read_again(systemd, record, verb, command):
    before, after = (SYSTEMD_STOPPED, SYSTEMD_ACTIVE) if verb is assist.enable else (SYSTEMD_ACTIVE, SYSTEMD_STOPPED)
    recorder = record(before, after={tuple(command.split()[:2]): after})
    ret = verb()
    assert recorder.commands()[-2:] == [command, "systemctl is-enabled aliyun.service"]
    assert ret["changes"] == {"enabled": {"old": verb is assist.disable, "new": verb is assist.enable}}


def client_dir_set(tmp_path):
    """The systemd fixture's client folder is a setting (in tmp_path), said as one."""
    return f"assist:lookup:client_dir is set to {tmp_path}/aliyun-assist (left out, it would be /usr/local/share/aliyun-assist)"


def test_systemd_a_unit_set_by_name_that_systemd_does_not_know_is_said_with_the_setting(systemd, settings, record, tmp_path):
    # The client program is there (the fixture's), the unit named in the setting is not.
    settings["systemd_unit"] = "aliyun-assist.service"
    record({("systemctl", "show"): (0, "ActiveState=inactive\nLoadState=not-found\n")})
    program = tmp_path / "aliyun-assist" / "2.2.3.578" / "aliyun-service"
    assert assist.status()["client"]["incomplete"] == (
        f"the client {program} is there, but the unit aliyun-assist.service is missing (assist:lookup:systemd_unit). "
        "assist:lookup:systemd_unit is set to aliyun-assist.service (left out, the agent's own would be found); "
        f"{client_dir_set(tmp_path)}: the setting may be wrong"
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
        "cloud-assistant.service",
        f"found {unit_dirs[2]}/cloud-assistant.service (its ExecStart runs the agent)",
    )


def test_systemd_of_two_units_takes_the_one_whose_program_is_there(systemd, unit_dirs, tmp_path, record):
    """An agent updated in place: the old version's unit is left, its folder is gone."""
    install_unit(unit_dirs[0], "aliyun-service.service", tmp_path / "aliyun-assist" / "2.2.2.100" / "aliyun-service")
    record(SYSTEMD_ACTIVE)
    assert assist.status()["client"]["service"] == "aliyun.service"


def test_systemd_two_units_of_the_agent_are_an_error_that_runs_nothing(systemd, unit_dirs, tmp_path, record):
    install_unit(unit_dirs[1], "aliyun-service.service", install_client(tmp_path / "aliyun-assist", "2.2.2.100"))
    recorder = record(SYSTEMD_ACTIVE)
    assert refusal(assist.stop) == (
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
        "aliyun-service.service, or one whose ExecStart runs the agent) is missing (assist:lookup:systemd_unit). "
        f"{client_dir_set(tmp_path)}: the setting may be wrong"
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


# --------------------------------------------------------------------------- no agent, half an agent


def systemd_unit_running(program):
    """systemctl show of the vendor's unit that runs ``program`` (the format of systemd 252)."""
    return {
        ("systemctl", "show"): (
            0,
            (
                "ActiveState=inactive\nSubState=dead\nLoadState=loaded\nFragmentPath=/etc/systemd/system/aliyun.service\n"
                f"ExecStart={{ path={program} ; argv[]={program} ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; "
                "pid=0 ; code=(null) ; status=0/0 }\n"
            ),
        ),
        ("systemctl", "is-enabled"): (0, "enabled\n"),
    }


def client_program(client_dir, version="2.2.3.578"):
    return client_dir / version / "aliyun-service"


def test_systemd_without_the_agent_status_says_not_installed_from_one_question(no_agent, record):
    recorder = record(SYSTEMD_NO_UNIT)
    client = assist.status()["client"]
    assert (client["service"], client["incomplete"], client["version"], client["pids"]) == ("aliyun.service", None, None, [])
    assert [key for key in ("installed", "running", "restart_pending", "enabled") if client[key] is not False] == []
    assert assist.is_running() is False
    assert recorder.commands() == [SHOW, SHOW]


def test_systemd_a_unit_whose_program_is_gone_is_said_with_both_paths_and_no_verb_acts(systemd, record, tmp_path):
    program = client_program(tmp_path / "aliyun-assist")
    program.unlink()
    recorder = record(systemd_unit_running(program))
    words = f"the unit aliyun.service (/etc/systemd/system/aliyun.service) runs {program}, which is missing"
    client = assist.status()["client"]
    assert (client["installed"], client["incomplete"]) == (False, words)
    for verb in (assist.start, assist.stop, assist.disable, assist.restart):
        with pytest.raises(
            CommandExecutionError, match=rf"^the Cloud Assistant agent is half installed: {re.escape(words)}\. Reinstall"
        ):
            verb()
    assert assist.audit()["drift"][0] == f"the agent is half installed: {words}"
    assert not [c for c in recorder.commands() if c.split()[1] in ("start", "stop", "restart", "disable")]


def test_systemd_a_program_without_its_unit_is_said_with_the_program_and_the_setting(systemd, settings, record, tmp_path):
    settings["systemd_unit"] = "aliyun.service"  # named: systemd knows no such unit
    program = client_program(tmp_path / "aliyun-assist")
    record(SYSTEMD_NO_UNIT)
    words = (
        f"the client {program} is there, but the unit aliyun.service is missing (assist:lookup:systemd_unit). "
        "assist:lookup:systemd_unit is set to aliyun.service (left out, the agent's own would be found); "
        f"{client_dir_set(tmp_path)}: the setting may be wrong"
    )
    assert assist.status()["client"]["incomplete"] == words
    # Set by the operator, the paths may be no part of the agent: nothing to reinstall or remove.
    assert refusal(assist.stop) == f"{words}. Correct the setting, or leave it out for the vendor's path. Nothing was changed."


def test_systemd_a_unit_and_the_program_it_runs_are_an_agent_installed(systemd, record, tmp_path):
    program = client_program(tmp_path / "aliyun-assist")
    record(systemd_unit_running(program))
    assert (assist.status()["client"]["installed"], assist.status()["client"]["incomplete"]) == (True, None)
