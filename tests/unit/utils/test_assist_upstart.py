"""The UpStart backend (Upstart): asked with initctl, start at boot in the job's
.override (1.3 and later) or its `start on` stanza (0.6.5), the job files kept whole, and
a job without its program. No UpStart can run here: initctl's answers are the ones
measured on UpStart 1.13.2 and 0.6.5 (tests/unit/recorder.py); tests/system runs both.
"""

import re

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.refusals import refusal
from tests.unit.conftest import assist, configure_loader_modules, minion_backend  # noqa: F401  (the loader mock)
from tests.unit.recorder import UPSTART_JOB


def test_upstart_is_detected_and_asked_with_initctl(upstart, upstart_version):
    recorder = upstart_version("1.13.2")
    status = assist.status()
    assert status["init"] == {"system": "upstart", "evidence": "initctl --version names upstart"}
    assert status["client"]["running"] is True and status["client"]["enabled"] is True
    assert recorder.commands() == ["initctl --version", "initctl status aliyun-service"]


def test_upstart_stop_and_start_use_initctl(upstart, upstart_version):
    recorder = upstart_version("1.13.2")
    backend = minion_backend()
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
    assert lines[:3] == [
        "#assist-salt-off# start on (local-filesystems",
        "#assist-salt-off#           and net-device-up IFACE!=lo)",
        "stop on runlevel [016]",
    ]
    assist.enable()
    assert (upstart / "aliyun-service.conf").read_text() == job


@pytest.mark.parametrize(
    "job, verb, words",
    [
        (
            "# started by hand only\nexec /bin/client\n",
            "enable",
            "no `start on` stanza that assist-salt turned off",
        ),
        (
            "#assist-salt-off# start on runlevel [2345]\nstart on startup\nexec /bin/client\n",
            "disable",
            "`start on` both on and off",
        ),
    ],
    ids=["no start on", "start on both on and off"],
)
def test_upstart_0_6_5_a_job_it_cannot_change_is_refused_naming_the_file_and_left_as_it_was(
    upstart, upstart_version, job, verb, words
):
    upstart_version("0.6.5")
    (upstart / "aliyun-service.conf").write_text(job)
    said = refusal(getattr(assist, verb))
    assert said.startswith(f"cannot change start at boot in /etc/init/aliyun-service.conf: {words}; ")
    assert "Nothing was changed." in said
    assert (upstart / "aliyun-service.conf").read_text() == job


def test_upstart_0_6_5_a_job_without_start_on_reads_as_off(upstart, upstart_version):
    upstart_version("0.6.5")
    (upstart / "aliyun-service.conf").write_text("# started by hand only\nexec /bin/client\n")
    assert assist.status()["client"]["enabled"] is False


def test_upstart_job_files_keep_their_mode(upstart, upstart_version):
    upstart_version("0.6.5")
    (upstart / "aliyun-service.conf").chmod(0o600)
    assist.disable()
    assert (upstart / "aliyun-service.conf").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in upstart.iterdir()) == ["aliyun-service.conf"]


# --------------------------------------------------------------------------- no agent, half an agent


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
