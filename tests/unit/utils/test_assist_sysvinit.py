"""The sysvinit backend (Sysvinit): the init script's verbs and LSB exit codes, start at
boot with update-rc.d, chkconfig or, in an image, the links themselves, the fewest
commands per verb, and a client process left with nothing of the agent installed.
"""

import os
from unittest import mock

import pytest
from salt.exceptions import CommandExecutionError

from tests.unit.conftest import assist, configure_loader_modules  # noqa: F401  (the loader mock)
from tests.unit.recorder import Recorder, install_watchdog, sysvinit_backend


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
    backend = sysvinit_backend(
        {"root": str(tmp_path), "run_image_programs": True}, {"cmd.run_all": Recorder({(): (retcode, "")})}
    )
    assert backend.active() is running


def test_sysvinit_status_exit_4_is_an_error_naming_the_command(tmp_path):
    backend = sysvinit_backend({"root": str(tmp_path), "run_image_programs": True}, {"cmd.run_all": Recorder({(): (4, "")})})
    with pytest.raises(
        CommandExecutionError, match=r"asking the init script failed: `.*/etc/init.d/aliyun-service status` exited 4"
    ):
        backend.active()


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
        "stop": [
            "assist_daemon --stop",
            "assist_daemon --delete",
            "aliyun-service status",
            "aliyun-service stop",
            "aliyun-service status",
        ],
        "stop again": ["aliyun-service status"],
        "start": ["aliyun-service status", "aliyun-service start", "aliyun-service status"],
    }
