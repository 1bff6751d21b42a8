"""Unit tier: the module's logic, loaded with Salt's dunders configured per test."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, load_source

# As Salt does while it loads modules, the utils folder is on sys.path for the import.
sys.path.append(str(REPO / "_utils"))
assist = load_source("assist_module", REPO / "_modules" / "assist.py")
import assist_init  # noqa: E402, F401  (the same modules the execution module imported)
import assist_settings  # noqa: E402, F401
import assist_watchdog  # noqa: E402, F401

DEB_CACHE = pathlib.Path(
    os.environ.get("ASSIST_DEB_CACHE", pathlib.Path.home() / ".cache" / "assist-salt" / "debs")
)


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


def unpack_debian_packages(name, packages):
    """Debian's own packages, fetched with apt-get download and unpacked once."""
    root = DEB_CACHE / name
    if root.is_dir():
        return root
    work = DEB_CACHE / f".{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    (work / "root").mkdir(parents=True)
    got = subprocess.run(
        ["apt-get", "download", *packages], cwd=work, capture_output=True, text=True
    )
    if got.returncode != 0:
        pytest.fail(
            f"apt-get download {' '.join(packages)} failed ({got.stderr.strip()}); "
            "run `apt-get update` first (.ci/run does)"
        )
    for deb in sorted(work.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")], check=True)
    (work / "root").rename(root)
    shutil.rmtree(work)
    return root


@pytest.fixture(scope="session")
def systemd_root():
    """A tree with Debian's real /sbin/init -> /lib/systemd/systemd (systemd-sysv)."""
    return unpack_debian_packages("systemd", ["systemd", "systemd-sysv"])


@pytest.fixture(scope="session")
def sysvinit_root():
    """A tree with Debian's real sysvinit /sbin/init (sysvinit-core)."""
    return unpack_debian_packages("sysvinit", ["sysvinit-core"])
