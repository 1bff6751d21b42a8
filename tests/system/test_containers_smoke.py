"""Smoke test for tests/system/containers.py: real systemd and sysvinit boot
as PID 1 in nspawn containers, the host's Python runs inside, and nothing is
left behind.  Needs root, debootstrap and systemd-nspawn
(tests/system/install-deps.sh)."""

import contextlib
import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import containers  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="system tests need root")

NAMES = {"systemd": "smoke-systemd", "sysvinit": "smoke-sysvinit"}
TIMINGS = {}


@pytest.fixture(scope="session")
def leftover_guard(tmp_path_factory):
    """Torn down last: asserts the session left no container behind."""
    base = tmp_path_factory.getbasetemp()
    containers.cleanup_stale(names=NAMES.values())
    yield base
    report = ", ".join("%s %.1fs" % kv for kv in TIMINGS.items())
    print("\ncontainer timings: " + report)
    leftovers = containers.stale_leftovers(names=NAMES.values(), roots=[base])
    assert leftovers == [], "containers left behind: %s" % leftovers


@pytest.fixture(scope="session")
def root_tarballs(leftover_guard):
    containers.ensure_tools()
    with _timed("build-or-reuse roots"):
        return containers.build_roots()          # both in parallel if cold


def _booted(kind, tarballs, tmp_path_factory):
    """Unpack a fresh root, boot it, yield it; always stop and delete."""
    root = tmp_path_factory.mktemp(kind[:2]) / "root"  # short path
    with _timed(kind + " unpack"):
        containers.unpack_root(tarballs[kind], root)
    box = containers.Container(kind, root, NAMES[kind],
                               binds_ro=containers.python_binds())
    try:
        with _timed(kind + " boot"):
            box.boot()
        yield box
    finally:
        with _timed(kind + " stop"):
            box.stop()
        with _timed(kind + " remove root"):
            containers.remove_root(root)


@contextlib.contextmanager
def _timed(label):
    started = time.monotonic()
    yield
    TIMINGS[label] = time.monotonic() - started


@pytest.fixture(scope="session")
def systemd_box(root_tarballs, tmp_path_factory):
    yield from _booted("systemd", root_tarballs, tmp_path_factory)


@pytest.fixture(scope="session")
def sysvinit_box(root_tarballs, tmp_path_factory):
    yield from _booted("sysvinit", root_tarballs, tmp_path_factory)


def _check_host_python_runs_inside(box):
    """The venv's python (bind-mounted read-only) imports ssl (and salt)."""
    code = "import ssl, sys; print(sys.prefix, ssl.OPENSSL_VERSION)"
    if importlib.util.find_spec("salt"):
        code += "; import salt.version; print(salt.version.__version__)"
    out = box.run([containers.venv_python(), "-c", code]).stdout.split("\n")
    assert out[0].startswith(sys.prefix + " OpenSSL")
    if importlib.util.find_spec("salt"):
        import salt.version
        assert out[1] == salt.version.__version__


# -- systemd ------------------------------------------------------------------

def test_systemd_is_pid1(systemd_box):
    assert systemd_box.run(["cat", "/proc/1/comm"]).stdout.strip() == "systemd"


def test_systemd_is_running(systemd_box):
    state = systemd_box.run(["systemctl", "is-system-running"], check=False)
    assert state.stdout.strip() in ("running", "degraded"), state
    failed = systemd_box.run(["systemctl", "--failed", "--plain",
                              "--no-legend"]).stdout
    assert failed.strip() == ""


def test_systemd_run_dir_exists(systemd_box):
    systemd_box.run(["test", "-d", "/run/systemd/system"])


def test_systemd_host_python_runs_inside(systemd_box):
    _check_host_python_runs_inside(systemd_box)


# -- sysvinit -----------------------------------------------------------------

def test_sysvinit_is_pid1(sysvinit_box):
    assert sysvinit_box.run(["cat", "/proc/1/comm"]).stdout.strip() == "init"
    runlevel = sysvinit_box.run(["runlevel"]).stdout.split()
    assert runlevel[-1] == "2"


def test_sysvinit_has_no_systemd(sysvinit_box):
    result = sysvinit_box.run(["test", "-e", "/run/systemd/system"],
                              check=False)
    assert result.returncode == 1


def test_sysvinit_init_binary_is_sysvinit(sysvinit_box):
    inside = sysvinit_box.run(["cat", "/sbin/init"], text=False).stdout
    assert b"sysvinit" in inside
    assert containers.read_in_root(sysvinit_box.root, "/sbin/init") == inside


def test_sysvinit_host_python_runs_inside(sysvinit_box):
    _check_host_python_runs_inside(sysvinit_box)


def test_sysvinit_reboot_keeps_files(sysvinit_box):
    sysvinit_box.run(["sh", "-c", "echo kept > /etc/reboot-marker"])
    old_leader = sysvinit_box.leader_pid
    with _timed("sysvinit reboot"):
        sysvinit_box.reboot()
    assert sysvinit_box.leader_pid != old_leader
    assert sysvinit_box.run(["cat", "/proc/1/comm"]).stdout.strip() == "init"
    assert sysvinit_box.run(["cat", "/etc/reboot-marker"]).stdout == "kept\n"


# -- library helpers (no container needed) -----------------------------------

def test_debian_mirror_is_a_url():
    assert containers.debian_mirror().startswith(("http://", "https://",
                                                  "file:/"))


def test_python_binds_cover_interpreter_and_venv():
    binds = containers.python_binds()
    for prefix in (sys.prefix, sys.base_prefix):
        assert any(prefix == b or prefix.startswith(b + "/") for b in binds)


def test_resolve_in_root_keeps_absolute_links_inside(tmp_path):
    (tmp_path / "lib/systemd").mkdir(parents=True)
    (tmp_path / "lib/systemd/systemd").write_bytes(b"x")
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "sbin").symlink_to("usr/sbin")
    (tmp_path / "usr/sbin/init").symlink_to("/lib/systemd/systemd")
    resolved = containers._resolve_in_root(tmp_path, "/sbin/init")
    assert resolved == tmp_path / "lib/systemd/systemd"
    assert Path(resolved).read_bytes() == b"x"
