"""The project installed as a user installs it: the wheel, or the source tree installed
editable, each built from a copy of the source tree (setuptools writes build/ and
*.egg-info next to the sources, and an egg-info in the repository would shadow the real
install). Used by the tests that install the project (the integration tier's fresh
virtualenvs, the windows tier's Windows Python)."""

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.conftest import REPO


def copy_source(scratch: Path) -> Path:
    """The repository's files under ``scratch/assist-salt``, without virtualenvs and caches."""
    source = scratch / "assist-salt"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "demo-work", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "bench"
        ),
    )
    return source


def build_wheel(scratch: Path) -> Path:
    """saltext_assist-*.whl, built under ``scratch`` (an empty directory)."""
    out = scratch / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(copy_source(scratch))],
        check=True,
    )
    (built,) = out.glob("saltext_assist-*.whl")
    return built


def fresh_virtualenv(venv: Path) -> Path:
    """A new virtualenv's python, with nothing of the project. Salt itself comes from the
    test virtualenv through a .pth file, so nothing is compiled again; so does pip
    (``pip_install``), which saves the seconds of putting a pip into each."""
    subprocess.run([sys.base_prefix + "/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    (Path(purelib(python)) / "test-venv-salt.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def purelib(python: Path) -> str:
    """Where ``python`` installs pure-Python packages (its site-packages)."""
    return subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def pip_install(python: Path, *args) -> None:
    """``pip install`` into ``python``'s virtualenv, the project only: its dependency, Salt,
    is there already."""
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", *map(str, args)], check=True
    )
