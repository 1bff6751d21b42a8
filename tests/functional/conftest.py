"""Functional tier: the module and states called in-process through Salt's loaders,
against a fake agent with real processes in a sandbox root (sysvinit path).

The fixtures are the salt-extension template's: the minion's options, Salt's
``Loaders`` over them and their state reset after each test; ``assist`` is the loaded
execution module, ``loaders.states.assist`` the state module.
Options some tests need make loaders of their own (``aside``, ``frozen``); only the
``assist:lookup`` settings change in place, for the many tests that try one setting
after another (see ``TierSettings``)."""

import copy
import os
import sys

import pytest
import salt.beacons
from saltfactories.utils.functional import Loaders

from tests.conftest import REPO, extension_dirs
from tests.support import fakeagent


class TierSettings(dict):
    """The tier's ``assist:lookup``, one dict however the options are copied.

    Salt deep-copies the options for each loader it makes (and Salt 3006 and 3007 for
    each state run), so a change of a copy's settings would reach one module and not the
    next. This dict is its own deep copy: every copy of the options holds it, and the
    ``lookup`` fixture changes it for one test."""

    def __deepcopy__(self, memo):
        return self


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    return tmp_path_factory.mktemp("root")


@pytest.fixture(scope="session")
def new_minion_process():
    """The helpers as a minion's new process has them: none imported yet, and _utils on
    sys.path only while Salt's loader loads a module (the unit tier imported its own
    copies at collection)."""
    utils = str(REPO / "_utils")
    for name, module in list(sys.modules.items()):
        if name.startswith("assist_") and os.path.dirname(getattr(module, "__file__", "") or "") == utils:
            del sys.modules[name]
    assert utils not in sys.path


@pytest.fixture(scope="session")
def minion_opts(salt_factories, sandbox, new_minion_process):
    factory = salt_factories.salt_minion_daemon(
        "functional",
        overrides={
            "file_client": "local",
            **extension_dirs(),
            "assist": {"lookup": {"root": str(sandbox), "run_image_programs": True, "verify_seconds": 2, "timeout": 20}},
        },
    )
    opts = factory.config.copy()
    opts["assist"]["lookup"] = TierSettings(opts["assist"]["lookup"])
    return opts


@pytest.fixture(scope="session")
def loaders(minion_opts):
    return Loaders(minion_opts)


@pytest.fixture(autouse=True)
def reset_loaders_state(loaders):
    """After each test: Salt's __context__ cleared, the minion's cache directory emptied."""
    try:
        yield
    finally:
        loaders.reset_state()


def loaders_with(minion_opts, name, **options):
    """Loaders over the tier's options with some of their own, in a module name space of
    their own, so that their modules never replace the tier's."""
    opts = copy.deepcopy(minion_opts)
    opts.update(options)
    return Loaders(opts, loaded_base_name=f"{__name__}.{name}")


@pytest.fixture(scope="session")
def aside_loaders(minion_opts, tmp_path_factory):
    return loaders_with(minion_opts, "aside", cachedir=str(tmp_path_factory.mktemp("aside") / "cache"))


@pytest.fixture
def aside(aside_loaders):
    """Loaders whose cache directory is the test's to spoil (``aside.opts["cachedir"]``):
    emptied again after the test."""
    yield aside_loaders
    aside_loaders.reset_state()


def frozen_minion(minion_opts, home, name, pillar=REPO / "pillar"):
    """Loaders of a minion whose config file (in ``home``) sets the grain assist_policy:
    frozen, where Salt reads grains, over the pillar tree ``pillar``."""
    (home / "minion").write_text("grains:\n  assist_policy: frozen\n")
    return loaders_with(
        minion_opts, name, conf_file=str(home / "minion"), pillar_roots={"base": [str(pillar)]}, cachedir=str(home / "cache")
    )


@pytest.fixture(scope="session")
def frozen_loaders(minion_opts, tmp_path_factory):
    return frozen_minion(minion_opts, tmp_path_factory.mktemp("frozen"), "frozen")


@pytest.fixture
def frozen(frozen_loaders):
    """Loaders of a minion the shipped pillar freezes: its top file matches the grain
    assist_policy: frozen, set in this minion's config file (where Salt reads grains)."""
    yield frozen_loaders
    frozen_loaders.reset_state()


@pytest.fixture
def lookup(minion_opts):
    """The tier's assist:lookup settings; a test may change them, they are restored after."""
    lookup = minion_opts["assist"]["lookup"]
    saved = dict(lookup)
    yield lookup
    lookup.clear()
    lookup.update(saved)


@pytest.fixture
def assist(loaders, lookup):
    return loaders.modules.assist


@pytest.fixture
def agent(sandbox):
    """A fresh fake agent, client and watchdog running, removed again after the test.

    Whatever the test did, the instance's registration and the agent's configuration
    (/usr/local/share/aliyun-assist, /etc/sysconfig/aliyun) must be byte-identical after.
    """
    with fakeagent.running({"sandbox": sandbox}) as agents:
        yield agents["sandbox"]


@pytest.fixture
def beacons(assist, loaders):
    """The beacons as the minion runs them (salt.beacons.Beacon), with no memory yet
    (the cache directory is emptied after each test)."""
    return lambda of=loaders: salt.beacons.Beacon(of.opts, of.modules)
