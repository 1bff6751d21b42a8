"""Init system detection: the vendor's /sbin/init test, run on real and synthetic files;
the backends detection chooses from (BACKENDS)."""

import os

import pytest
from salt.exceptions import CommandExecutionError

from tests.conftest import REPO
from tests.unit.conftest import assist, assist_init, configure_loader_modules, minion_backend  # noqa: F401  (the loader mock)


def detected():
    """What the module detects, with its evidence."""
    backend = minion_backend(act=False)
    return {"system": backend.name, "evidence": backend.evidence}


def sandbox_with_init(tmp_path, content):
    (tmp_path / "sbin").mkdir()
    (tmp_path / "sbin" / "init").write_bytes(b"\x7fELF\x00junk\x00" + content + b"\x00more")
    return tmp_path


def test_real_systemd_init_is_detected_through_its_absolute_symlink(settings, systemd_root):
    # systemd-sysv ships /sbin/init as a link to /lib/systemd/systemd; it must resolve
    # inside the root, not on this host.
    assert os.path.islink(systemd_root / "sbin" / "init")
    settings["root"] = str(systemd_root)
    status = detected()
    assert status == {"system": "systemd", "evidence": "/sbin/init contains '/lib/system'"}


def test_real_sysvinit_init_is_detected(settings, sysvinit_root):
    settings["root"] = str(sysvinit_root)
    assert assist.init_system() == "sysvinit"


def test_real_inits_carry_only_their_own_marker(systemd_root, sysvinit_root):
    systemd = (systemd_root / "lib" / "systemd" / "systemd").read_bytes()
    sysvinit = (sysvinit_root / "sbin" / "init").read_bytes()
    assert b"/lib/system" in systemd and b"sysvinit" not in systemd and b"upstart" not in systemd
    assert b"sysvinit" in sysvinit and b"/lib/system" not in sysvinit


@pytest.mark.parametrize(
    "marker, expected",
    [(b"/lib/systemd/systemd", "systemd"), (b"init (upstart 1.12.1)", "upstart"), (b"INIT_VERSION=sysvinit-2.88", "sysvinit")],
)
def test_synthetic_markers_decide_in_the_vendors_order(settings, tmp_path, marker, expected):
    # UpStart: Debian has no UpStart binary any more, so a synthetic file stands in.
    settings["root"] = str(sandbox_with_init(tmp_path, marker))
    assert assist.init_system() == expected


def test_running_systemd_wins_over_the_init_binary(settings, tmp_path):
    sandbox_with_init(tmp_path, b"INIT_VERSION=sysvinit-3.06")
    (tmp_path / "run" / "systemd" / "system").mkdir(parents=True)
    settings["root"] = str(tmp_path)
    assert detected()["evidence"].startswith("/run/systemd/system exists")


def test_running_upstart_is_asked_with_initctl(settings, tmp_path, configure_loader_modules):
    # Test double: no UpStart can run here, so cmd.run_all answers as initctl would.
    sandbox_with_init(tmp_path, b"nothing useful")
    initctl = tmp_path / "sbin" / "initctl"
    initctl.write_text("#!/bin/sh\n")
    initctl.chmod(0o755)
    calls = []

    def run_all(argv, **kwargs):
        calls.append(argv)
        return {"retcode": 0, "stdout": "initctl (upstart 1.12.1)", "stderr": ""}

    assist.__salt__["cmd.run_all"] = run_all
    settings.update(root=str(tmp_path), run_image_programs=True)
    assert assist.init_system() == "upstart"
    assert calls == [[str(initctl), "--version"]]


def test_an_images_initctl_is_not_run_unless_allowed(settings, tmp_path, configure_loader_modules):
    # An image's initctl would ask this host's UpStart: detection falls back to the file.
    sandbox_with_init(tmp_path, b"INIT_VERSION=sysvinit-3.06")
    (tmp_path / "sbin" / "initctl").write_text("#!/bin/sh\n")
    (tmp_path / "sbin" / "initctl").chmod(0o755)
    assist.__salt__["cmd.run_all"] = lambda argv, **kwargs: pytest.fail(f"ran {argv}")
    settings["root"] = str(tmp_path)
    assert detected() == {"system": "sysvinit", "evidence": "/sbin/init contains 'sysvinit'"}


def test_explicit_setting_wins(settings, systemd_root):
    settings.update(root=str(systemd_root), init_system="sysvinit")
    assert detected() == {
        "system": "sysvinit",
        "evidence": "set by assist:lookup:init_system",
    }


def test_detection_is_cached_for_the_process(settings, tmp_path):
    settings["root"] = str(sandbox_with_init(tmp_path, b"sysvinit"))
    assert assist.init_system() == "sysvinit"
    (tmp_path / "sbin" / "init").write_bytes(b"/lib/systemd")
    assert assist.init_system() == "sysvinit"
    assert "assist.init_system" in assist.__context__


def test_an_init_without_any_marker_asks_for_the_setting(settings, tmp_path):
    settings["root"] = str(sandbox_with_init(tmp_path, b"busybox"))
    with pytest.raises(CommandExecutionError, match="set assist:lookup:init_system"):
        assist.init_system()


def test_an_unreadable_init_names_the_file_and_the_setting(settings, tmp_path):
    (tmp_path / "sbin").mkdir()
    os.symlink("/nowhere/init", tmp_path / "sbin" / "init")
    settings["root"] = str(tmp_path)
    with pytest.raises(CommandExecutionError, match=r"cannot read /sbin/init .*assist:lookup:init_system"):
        assist.init_system()


def test_symlink_loops_are_reported(settings, tmp_path):
    (tmp_path / "sbin").mkdir()
    os.symlink("/sbin/init", tmp_path / "sbin" / "init")
    settings["root"] = str(tmp_path)
    with pytest.raises(CommandExecutionError, match="too many symbolic links"):
        assist.init_system()


def test_systemd_installed_but_not_running_refuses_control(settings, tmp_path):
    # Like this machine and any container without its init: a false success would lie.
    settings["root"] = str(sandbox_with_init(tmp_path, b"/lib/systemd/systemd"))
    for verb in (assist.stop, assist.start, assist.status, assist.enable):
        with pytest.raises(CommandExecutionError, match="systemd is installed .* not running as PID 1"):
            verb()


def test_every_init_system_has_a_backend_answering_the_same_questions():
    questions = {"service", "check_ready", "control", "active", "activity", "enabled", "set_enabled", "client_pids", "version"}
    assert set(assist_init.BACKENDS) == {"systemd", "upstart", "sysvinit", "windows"}
    for name, backend in assist_init.BACKENDS.items():
        assert backend.name == name
        assert all(callable(getattr(backend, q)) for q in questions), name
        # The init system's own answers are its own, none left to the base's NotImplementedError.
        assert {"activity", "enabled", "set_enabled", "registration"} <= set(vars(backend)), name
        assert "control" in vars(backend) or "command" in vars(backend), name


def test_each_init_system_has_a_file_of_its_own():
    """One backend per file, as Salt's own service modules are (issue 31)."""
    for name, backend in assist_init.BACKENDS.items():
        assert backend.__module__.rpartition(".")[2] == f"assist_{name}", name
    files = {path.stem for path in (REPO / "_utils").glob("assist_*.py")}
    holding = {
        stem: [n for n in assist_init.BACKENDS if f"class {n.capitalize()}" in (REPO / "_utils" / f"{stem}.py").read_text()]
        for stem in files
    }
    assert all(len(found) <= 1 for found in holding.values()), holding
