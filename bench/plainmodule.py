"""_modules/assist.py without a minion: loaded as a plain Python module with the
dunders Salt's loader would give it (as tests/unit/conftest.py does), and the project's
_utils importable, as Salt makes them while it loads the module."""

import sys

from common import REPO

from tests.conftest import load_source

UTILS = REPO / "_utils"


def utils_importable():
    """Put _utils on sys.path (Salt does so while it loads the module)."""
    if str(UTILS) not in sys.path:
        sys.path.append(str(UTILS))


def init():
    """_utils/assist_init.py, the module the execution module detects with."""
    utils_importable()
    import assist_init  # noqa: PLC0415  (importable once _utils is on the path)

    return assist_init


def settings():
    """_utils/assist_settings.py, the module the execution module reads settings with."""
    utils_importable()
    import assist_settings  # noqa: PLC0415

    return assist_settings


def load(lookup, cachedir, run_all):
    """The module, reading `lookup` as assist:lookup and running commands with run_all."""
    utils_importable()
    module = load_source("assist_bench_plain", REPO / "_modules" / "assist.py")
    module.__salt__ = {"cmd.run_all": run_all}
    module.__opts__ = {"cachedir": str(cachedir), "assist": {"lookup": lookup}}
    module.__context__ = {}
    module.__grains__ = {}
    module.__pillar__ = {}
    return module
