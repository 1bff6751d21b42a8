"""Unit tier: the module's logic, loaded with Salt's dunders configured per test."""

import sys

import pytest

from tests.conftest import REPO, load_source

# As Salt does while it loads modules, the utils folder is on sys.path for the import.
sys.path.append(str(REPO / "_utils"))
assist = load_source("assist_module", REPO / "_modules" / "assist.py")
import assist_init  # noqa: E402, F401  (the same modules the execution module imported)
import assist_settings  # noqa: E402, F401
import assist_watchdog  # noqa: E402, F401


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
