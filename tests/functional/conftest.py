"""Functional tier: the module and states called in-process through Salt's loader,
against a fake agent with real processes in a sandbox root (sysvinit path)."""

import os

import pytest
import salt.beacons
from saltfactories.utils.functional import Loaders

try:
    from salt.utils.optsdict import OptsDict  # Salt 3008
except ImportError:  # Salt 3007
    OptsDict = None

from tests.conftest import extension_dirs
from tests.support import fakeagent


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
    return factory.config.copy()


@pytest.fixture(scope="session")
def loaders(minion_opts):
    return Loaders(minion_opts)


@pytest.fixture
def lookup(loaders):
    """The live assist:lookup settings; a test may change them, they are restored after."""
    lookup = loaders.opts["assist"]["lookup"]
    share(loaders, lookup)
    saved = dict(lookup)
    yield lookup
    lookup.clear()
    lookup.update(saved)
    share(loaders, lookup)


def share(loaders, lookup):
    """Make every copy of the opts the assist module may read hold the one lookup dict.

    Salt 3008 gives modules copy-on-write views (OptsDict) that read loaders.opts
    through: nothing to do. Salt 3006 and 3007 deep-copy opts when a loader is created,
    and a module that keeps its own __opts__ (state, whose state.single runs every state
    test) reads that copy; and a state run packs the assist module anew with a copy of
    the opts taken then, which it keeps after the run."""
    if OptsDict is None:
        loaders.modules.opts["assist"]["lookup"] = lookup
        loaders.modules.assist.status.func.__globals__["__opts__"]["assist"]["lookup"] = lookup


@pytest.fixture
def assist(loaders, lookup):
    loaders.context.clear()
    return loaders.modules.assist


@pytest.fixture
def assist_opts(assist):
    """The __opts__ the loaded assist module reads, for a test that changes a top-level
    option. Salt 3008 gives each module a copy-on-write view of loaders.opts (OptsDict),
    so a change there shows; Salt 3007 gives it a copy taken when the module loaded."""
    return assist.stop.func.__globals__["__opts__"]


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
    """The beacons as the minion runs them (salt.beacons.Beacon), with no memory yet."""
    os.makedirs(loaders.opts["cachedir"], exist_ok=True)
    memory = os.path.join(loaders.opts["cachedir"], "assist.beacon.json")
    if os.path.exists(memory):
        os.unlink(memory)
    yield lambda: salt.beacons.Beacon(loaders.opts, loaders.modules)
    if os.path.exists(memory):
        os.unlink(memory)
