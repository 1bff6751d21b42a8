"""
Which release of assist-salt this is, and its helpers loaded whole.

After ``saltutil.sync_all`` Salt loads the loader modules (``_modules/assist.py``,
``_grains/assist.py``) again from their new files, but a helper they import is a plain
Python module: it stays in ``sys.modules``. The grain and the beacon import it in the
minion's main process, and every job forked from there (or run in a thread of it) would
find the release that was there before. So the loader modules take their helpers
through ``load``: a helper whose file changed since it was imported is imported again,
and with it every other helper, so that no job runs one release's module over
another's helpers.
"""

import importlib
import os
import sys
import threading
import types

# The release, as pyproject.toml and the loader modules' __version__ give it; a test
# holds them together.
VERSION = "0.3.0"

# The name the helpers carry: "saltext.assist.utils.assist_x" installed with pip,
# "assist_x" synced from file_roots (Salt puts the utils folder on sys.path).
PACKAGE = __name__.rpartition(".")[0]
FOLDER = os.path.dirname(os.path.abspath(__file__))

# One load at a time: with multiprocessing off, jobs are threads of one process. Every
# copy of this module, old or new, takes the same lock: it is kept in sys.modules under
# a name no load forgets.
_SHARED = sys.modules.setdefault("assist_salt_loading", types.ModuleType("assist_salt_loading"))
_LOCK = _SHARED.__dict__.setdefault("lock", threading.Lock())


def load(version, *names):
    """The helpers ``names`` (``"assist_init"``, ...) of release ``version``, each from its
    file as it is now. Raises ImportError, with words Salt shows for the module, when the
    helpers on disk are of another release than the loader module that asks."""
    with _LOCK:
        if _changed():
            _forget()
        current = importlib.import_module(__name__)  # this module, or the one its new file makes
        if current.load is load:
            modules = [importlib.import_module(_qualified(name)) for name in names]
            _stamp()
    if current.load is not load:  # this file changed too: the new release's loading decides
        return current.load(version, *names)
    if version != VERSION:
        raise ImportError(
            f"assist: this module is release {version} but the helpers in _utils are release {VERSION} "
            "(only part of a release was synced); run saltutil.sync_all, which syncs _modules and _utils "
            "together, then restart the minion if the module still refuses. Nothing was run."
        )
    return modules


def _qualified(name):
    return f"{PACKAGE}.{name}" if PACKAGE else name


def _helpers():
    """The helpers imported in this process: {name: module}, this one included."""
    prefix = _qualified("assist_")
    found = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name.startswith(prefix) and path and os.path.dirname(os.path.abspath(path)) == FOLDER:
            found[name] = module
    return found


def _file_stamp(path):
    """What changes when a sync writes the file anew; None when it is gone."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size, found.st_ino


def _changed():
    """Whether a helper in memory is not its file as it is now: a file changed since it
    was imported, or a helper imported by code that did not stamp it (a release before
    this way of loading)."""
    return any(getattr(module, "__assist_stamp__", None) != _file_stamp(module.__file__) for module in _helpers().values())


def _forget():
    """Drop every helper from sys.modules, so that the next import reads its file."""
    package = sys.modules.get(PACKAGE)
    for name in _helpers():
        del sys.modules[name]
        # `from package import name` finds a submodule's attribute first.
        if package is not None and getattr(package, name.rpartition(".")[2], None) is not None:
            delattr(package, name.rpartition(".")[2])
    importlib.invalidate_caches()


def _stamp():
    for module in _helpers().values():
        if not hasattr(module, "__assist_stamp__"):
            module.__assist_stamp__ = _file_stamp(module.__file__)


# Stamped as it is imported: a copy brought in by load() is this file as it is now.
__assist_stamp__ = _file_stamp(__file__)
