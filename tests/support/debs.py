"""Debian's own packages, fetched with ``apt-get download`` and unpacked once: real init
binaries for tests that need their bytes, never the host's."""

import os
import pathlib
import shutil
import subprocess

import pytest

DEB_CACHE = pathlib.Path(os.environ.get("ASSIST_DEB_CACHE", pathlib.Path.home() / ".cache" / "assist-salt" / "debs"))


def unpack_debian_packages(name, packages):
    """The packages' files under one folder (cached by ``name``), as dpkg would lay them."""
    root = DEB_CACHE / name
    if root.is_dir():
        return root
    work = DEB_CACHE / f".{name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    (work / "root").mkdir(parents=True)
    got = subprocess.run(["apt-get", "download", *packages], cwd=work, capture_output=True, text=True)
    if got.returncode != 0:
        pytest.fail(
            f"apt-get download {' '.join(packages)} failed ({got.stderr.strip()}); "
            "run `apt-get update` first (tests/deps.sh unit does)"
        )
    for deb in sorted(work.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")], check=True)
    (work / "root").rename(root)
    shutil.rmtree(work)
    return root
