"""The assist_agent grain (_grains/assist.py) over an image root made in tmp_path, named
by the minion config's assist:lookup (grains load before pillar): files only, no
command."""

import pytest

from tests.conftest import REPO, load_source
from tests.unit.recorder import Recorder

grains = load_source("assist_grains", REPO / "_grains" / "assist.py")


@pytest.fixture
def configure_loader_modules(settings):
    """The grain reads the minion config's assist:lookup (``settings``); its __salt__
    records any command it would run."""
    return {grains: {"__opts__": {"assist": {"lookup": settings}}, "__salt__": {"cmd.run_all": Recorder({})}}}


def image(root, init, version=None):
    """An image root whose /sbin/init holds ``init`` and, with a version, the agent's
    version file."""
    (root / "sbin").mkdir()
    (root / "sbin" / "init").write_bytes(b"\x7fELF\x00" + init + b"\x00")
    if version:
        client_dir = root / "usr" / "local" / "share" / "aliyun-assist"
        client_dir.mkdir(parents=True)
        (client_dir / "version").write_text(f"{version}\n")
    return str(root)


def test_the_grain_says_the_init_system_and_the_agents_version_of_the_configured_root(settings, tmp_path):
    settings["root"] = image(tmp_path, b"INIT_VERSION=sysvinit-3.06", "2.2.3.578")
    assert grains.assist_agent() == {"assist_agent": {"init_system": "sysvinit", "installed": True, "version": "2.2.3.578"}}


def test_the_grain_knows_the_init_system_by_sbin_init_alone_and_runs_no_command(settings, tmp_path):
    # An initctl that would answer: the module would ask it; the grain runs nothing.
    settings.update(root=image(tmp_path, b"INIT_VERSION=sysvinit-3.06"), run_image_programs=True)
    (tmp_path / "sbin" / "initctl").write_text("#!/bin/sh\necho 'initctl (upstart 1.13.2)'\n")
    (tmp_path / "sbin" / "initctl").chmod(0o755)
    assert grains.assist_agent()["assist_agent"] == {"init_system": "sysvinit", "installed": False, "version": None}
    assert grains.__salt__["cmd.run_all"].calls == []


def test_an_init_system_not_detected_leaves_it_empty_and_the_version_is_still_read(settings, tmp_path):
    settings["root"] = image(tmp_path, b"busybox", "2.5.3.650")
    assert grains.assist_agent()["assist_agent"] == {"init_system": None, "installed": True, "version": "2.5.3.650"}
