"""Bad settings: a clear error naming the setting, and nothing on disk or in the
process table changes."""

import os
import shutil

import pytest
from salt.exceptions import CommandExecutionError


def tree(root):
    """Every path under the sandbox with its kind and content or link target."""
    found = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(top, name)
            if os.path.islink(path):
                found[path] = ("link", os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as handle:
                    found[path] = ("file", handle.read())
            else:
                found[path] = ("dir", None)
    return found


def make_symlinked_daemon_dir(sandbox, lookup):
    real = sandbox / "elsewhere"
    real.mkdir()
    (real / "assist_daemon").write_text("#!/bin/sh\n")
    (sandbox / "opt").mkdir(exist_ok=True)
    os.symlink(real, sandbox / "opt" / "watchdog")
    lookup.update(daemon_dir="/opt/watchdog", daemon_path="/opt/watchdog/assist_daemon")


def make_daemon_dir_without_binary(sandbox, lookup):
    (sandbox / "opt" / "watchdog").mkdir(parents=True)
    (sandbox / "opt" / "watchdog" / "keep.txt").write_text("not the watchdog's\n")
    lookup.update(daemon_dir="/opt/watchdog", daemon_path="/opt/watchdog/assist_daemon")


def make_symlinked_parent(sandbox, lookup):
    (sandbox / "data" / "watchdog").mkdir(parents=True)
    (sandbox / "data" / "watchdog" / "assist_daemon").write_text("#!/bin/sh\n")
    (sandbox / "srv2").symlink_to(sandbox / "data")
    lookup.update(daemon_dir="/srv2/watchdog", daemon_path="/srv2/watchdog/assist_daemon")


CASES = {
    "daemon dir is /": ({"daemon_dir": "/"}, "assist:lookup:daemon_dir: '/' is refused: it is a system directory"),
    "relative daemon dir": ({"daemon_dir": "usr/local/share/assist-daemon"}, "assist:lookup:daemon_dir: .* must be absolute"),
    "daemon dir with ..": (
        {"daemon_dir": "/usr/local/share/assist-daemon/../aliyun-assist"},
        r"assist:lookup:daemon_dir: .* must not contain '\.\.'",
    ),
    "daemon dir under aliyun-assist": (
        {
            "daemon_dir": "/usr/local/share/aliyun-assist/hybrid",
            "daemon_path": "/usr/local/share/aliyun-assist/hybrid/assist_daemon",
        },
        "assist:lookup:daemon_dir: .* overlaps /usr/local/share/aliyun-assist",
    ),
    "unknown init system": ({"init_system": "openrc"}, "assist:lookup:init_system: 'openrc' is refused"),
    "service name with shell characters": (
        {"init_system": "systemd", "systemd_unit": "aliyun.service;rm -rf /"},
        "assist:lookup:systemd_unit: .* is refused: a service name",
    ),
    "daemon dir is a symlink": (
        make_symlinked_daemon_dir,
        "assist:lookup:daemon_dir: '/opt/watchdog' is refused: it is a symbolic link",
    ),
    "daemon dir without the binary": (
        make_daemon_dir_without_binary,
        "assist:lookup:daemon_dir: .* does not hold the watchdog binary",
    ),
    "daemon dir below a symlink": (make_symlinked_parent, "assist:lookup:daemon_dir: .* a directory above it is a symbolic link"),
    # An image's programs would act on this host: not run unless allowed.
    "an image's programs, not allowed": (
        {"run_image_programs": False},
        r"would run /.* from assist:lookup:root .*could act on this host's own agent; nothing was changed",
    ),
    "run_image_programs not a boolean": (
        {"run_image_programs": "yes"},
        "assist:lookup:run_image_programs: 'yes' is refused: use true or false",
    ),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("verb", ["stop", "remove_daemon"])
def test_bad_settings_are_refused_and_nothing_changes(assist, agent, sandbox, lookup, case, verb):
    setting, message = CASES[case]
    if callable(setting):
        setting(sandbox, lookup)
    else:
        lookup.update(setting)
    before = tree(sandbox), agent.client_pids(), agent.daemon_pids()
    with pytest.raises(CommandExecutionError, match=message):
        getattr(assist, verb)()
    assert (tree(sandbox), agent.client_pids(), agent.daemon_pids()) == before


def test_a_missing_init_script_is_named(assist, agent, sandbox, lookup):
    lookup["sysv_script"] = "/etc/init.d/aliyun-service-missing"
    before = tree(sandbox), agent.client_pids(), agent.daemon_pids()
    with pytest.raises(
        CommandExecutionError, match="init script /etc/init.d/aliyun-service-missing is missing .*assist:lookup:sysv_script"
    ):
        assist.stop()
    assert (tree(sandbox), agent.client_pids(), agent.daemon_pids()) == before


def systemd_image(systemd_root, path):
    """An image with Debian's real systemd as its init, not booted: no /run/systemd/system,
    as in a container or chroot without its init."""
    (path / "sbin").mkdir(parents=True)
    (path / "lib" / "systemd").mkdir(parents=True)
    shutil.copyfile(systemd_root / "lib" / "systemd" / "systemd", path / "lib" / "systemd" / "systemd")
    os.symlink("/lib/systemd/systemd", path / "sbin" / "init")
    return path


def test_an_image_with_systemd_installed_but_not_running_gets_an_error(assist, lookup, systemd_root, tmp_path):
    image = systemd_image(systemd_root, tmp_path / "image")
    lookup["root"] = str(image)
    before = tree(image)
    for verb in ("stop", "start", "status", "disable"):
        with pytest.raises(
            CommandExecutionError, match=r"systemd is installed \(/sbin/init contains '/lib/system'\) but is not running as PID 1"
        ):
            getattr(assist, verb)()
    assert tree(image) == before
