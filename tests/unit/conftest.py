"""Unit tier: the module's logic, loaded with Salt's dunders configured per test.

The files mirror the product's modules (tests/unit/modules/test_assist.py tests
_modules/assist.py, tests/unit/utils/test_assist_settings.py tests
_utils/assist_settings.py, ...; test_layout.py holds the rule). The fixtures here serve
several of them: the execution module over recorded commands (recorder.py) on a systemd
or an UpStart minion made in tmp_path.
"""

import shutil
import sys

import pytest

from tests.conftest import REPO, load_source

# As Salt does while it loads a module: the utils folder on sys.path for the import only,
# so that no later import finds a helper where a minion would not.
sys.path.append(str(REPO / "_utils"))
try:
    assist = load_source("assist_module", REPO / "_modules" / "assist.py")
    # The execution module's helpers, and the other helpers theirs import (for the tests).
    import assist_backend  # noqa: F401
    import assist_files  # noqa: F401
    import assist_init
    import assist_policy  # noqa: F401
    import assist_process  # noqa: F401
    import assist_release  # noqa: F401
    import assist_settings
    import assist_steps  # noqa: F401
    import assist_systemd
    import assist_sysvinit  # noqa: F401
    import assist_watchdog  # noqa: F401
finally:
    sys.path.remove(str(REPO / "_utils"))

from tests.unit.recorder import UPSTART_JOB, Recorder, initctl, install_client, install_unit  # noqa: E402


@pytest.fixture
def settings():
    """The minion config's assist:lookup; tests fill it in."""
    return {}


@pytest.fixture
def configure_loader_modules(settings, tmp_path):
    return {
        assist: {
            "__salt__": {},
            "__opts__": {"cachedir": str(tmp_path), "assist": {"lookup": settings}},
            "__grains__": {},
            "__pillar__": {},
            "__context__": {},
        }
    }


def minion_settings():
    """The settings the module loads (assist:lookup from its options, grains and pillar)."""
    return assist_settings.load(assist_settings.lookup(assist.__opts__, assist.__grains__, assist.__pillar__))


def minion_backend(act=True):
    """The backend the module's verbs use, ready to act unless ``act`` is False."""
    backend = assist_init.backend(minion_settings(), assist.__salt__, assist.__context__)
    if act:
        backend.check_ready()
    return backend


@pytest.fixture
def record(configure_loader_modules):
    def install(replies, after=None):
        recorder = Recorder(replies, after)
        assist.__salt__["cmd.run_all"] = recorder
        return recorder

    return install


# --------------------------------------------------------------------------- systemd


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
    monkeypatch.setattr(assist_systemd.Systemd, "UNIT_DIRS", tuple(map(str, dirs)))
    return dirs


@pytest.fixture
def no_agent(systemd, unit_dirs, tmp_path):
    """The systemd fixture's minion with the agent uninstalled: no unit file, no client."""
    (unit_dirs[0] / "aliyun.service").unlink()
    shutil.rmtree(tmp_path / "aliyun-assist")
    return systemd


# --------------------------------------------------------------------------- UpStart


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
