"""Functional tier: the module and states called in-process through Salt's loaders,
against a fake agent with real processes in a sandbox root (sysvinit path).

The fixtures are the salt-extension template's: the minion's options, Salt's
``Loaders`` over them, their state reset after each test, and ``modules``/``states``.
Options a test needs of its own make loaders of their own (``loaders_for``); only the
``assist:lookup`` settings change in place, for the many tests that try one setting
after another (see ``TierSettings``)."""

import copy

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
def minion_opts(salt_factories, sandbox):
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


@pytest.fixture
def loaders_for(minion_opts, tmp_path):
    """Loaders over the tier's options with some of a test's own: ``loaders_for(cachedir=...)``.
    Each gets a module name space of its own, so its modules never replace the tier's."""
    made = []

    def make(**options):
        opts = copy.deepcopy(minion_opts)
        opts.update(options)
        made.append(Loaders(opts, loaded_base_name=f"{__name__}.loaded{len(made)}"))
        return made[-1]

    yield make
    for each in made:
        each.reset_state()


@pytest.fixture
def frozen(loaders_for, tmp_path):
    """Loaders of a minion the shipped pillar freezes: its top file matches the grain
    assist_policy: frozen, set in this minion's config file (where Salt reads grains)."""
    config = tmp_path / "frozen" / "minion"
    config.parent.mkdir()
    config.write_text("grains:\n  assist_policy: frozen\n")
    return loaders_for(
        conf_file=str(config), pillar_roots={"base": [str(REPO / "pillar")]}, cachedir=str(tmp_path / "frozen" / "cache")
    )


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
