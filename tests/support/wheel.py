"""The project's wheel, built from a copy of the source tree: setuptools writes build/
and *.egg-info next to the sources, and an egg-info in the repository would shadow the
real install. Used by the tests that install the project as a user would (the
integration tier's fresh virtualenv, the windows tier's Windows Python)."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def build_wheel(scratch: Path) -> Path:
    """saltext_assist-*.whl, built under ``scratch`` (an empty directory)."""
    source = scratch / "assist-salt"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "demo-work", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "bench"))
    out = scratch / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source)],
        check=True,
    )
    (built,) = out.glob("saltext_assist-*.whl")
    return built
