"""_modules/assist.py without a minion: loaded as a plain Python module with the
dunders Salt's loader would give it (as tests/unit/conftest.py does)."""

import sys

from common import REPO
from tests.conftest import load_source

UTILS = REPO / "_utils"


def load_utils():
    """The project's _utils, importable (Salt puts the folder on sys.path while loading)
    and as the loader's __utils__ shows them (<file>.<function>)."""
    if not UTILS.is_dir():
        return {}
    if str(UTILS) not in sys.path:
        sys.path.append(str(UTILS))
    functions = {}
    for path in sorted(UTILS.glob("*.py")):
        utils = load_source(f"assist_bench_utils_{path.stem}", path)
        for name, function in vars(utils).items():
            if callable(function) and not name.startswith("_") and \
                    getattr(function, "__module__", None) == utils.__name__:
                functions[f"{path.stem}.{name}"] = function
    return functions


def facts():
    """The shared file facts (_utils/assist_facts.py), as the module imports them."""
    load_utils()
    import assist_facts  # noqa: PLC0415  (importable once load_utils put _utils on the path)

    return assist_facts


def load(settings, cachedir, run_all):
    """The module, reading `settings` as assist:lookup and running commands with run_all."""
    utils = load_utils()
    module = load_source("assist_bench_plain", REPO / "_modules" / "assist.py")
    module.__salt__ = {
        "config.get": lambda key, default=None, merge=None: settings,
        "cmd.run_all": run_all,
    }
    module.__utils__ = utils
    module.__opts__ = {"cachedir": str(cachedir)}
    module.__context__ = {}
    return module
