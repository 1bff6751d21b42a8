"""Fixtures shared by every tier: the salt-master serves the integration and system tiers."""

import concurrent.futures
import contextlib
import importlib.util
import pathlib

import pytest
import salt._logging

from tests.support.debs import unpack_debian_packages

REPO = pathlib.Path(__file__).resolve().parent.parent
# The project's extension folders: the one list. saltutil.sync_all (and salt-run
# saltutil.sync_runners) takes them from file_roots; in-process loaders and salt-call
# read them through the option that names each.
EXTENSION_FOLDERS = {
    "_modules": "module_dirs",
    "_states": "states_dirs",
    "_utils": "utils_dirs",
    "_grains": "grains_dirs",
    "_runners": "runner_dirs",
    "_beacons": "beacons_dirs",
}


# Tiers whose every test needs root: containers; Wine in a network namespace.
ROOT_TIERS = {"system", "windows"}
# Tests that need root besides those tiers': sshd lets salt-ssh log in as root.
ROOT_TESTS = {"tests/integration/test_ssh.py"}
# Fixtures that need root wherever they are used: a full file system is a tmpfs mounted.
ROOT_FIXTURES = {"full_fs"}


def pytest_collection_modifyitems(items):
    """Mark each test with its tier (the folder under tests/), and with root and
    containers where it needs them (markers listed in pyproject.toml)."""
    for item in items:
        path = pathlib.Path(item.fspath).relative_to(REPO).as_posix()
        tier = path.split("/")[1]
        item.add_marker(tier)
        if tier in ROOT_TIERS or path in ROOT_TESTS or ROOT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("root")
        if "boxes" in getattr(item, "fixturenames", ()):  # the system tier's booted containers
            item.add_marker("containers")


def extension_dirs():
    """Options that load the project's modules straight from the repository."""
    return {option: [str(REPO / folder)] for folder, option in EXTENSION_FOLDERS.items()}


# Salt's temporary log handler otherwise writes to a closed stream at exit.
salt._logging.shutdown_temp_handler()


@contextlib.contextmanager
def all_started(*groups):
    """Start salt daemons group after group, the daemons of one group side by side (a
    daemon's start is mostly waiting for its own start event); stop them in reverse
    order, a group's side by side, also after a failure part way."""
    with contextlib.ExitStack() as stack:
        for group in groups:
            group = list(group)
            stack.callback(side_by_side, lambda factory: factory.terminate(), group)
            failures = [exc for exc in side_by_side(lambda factory: factory.start(), group) if exc]
            if failures:
                raise failures[0]
        yield


def side_by_side(action, factories):
    """``action`` on every factory in threads of its own; the exception of each (or None)."""
    with concurrent.futures.ThreadPoolExecutor(max(1, len(factories))) as pool:
        done = [pool.submit(action, factory) for factory in factories]
    return [future.exception() for future in done]


def load_source(name, path):
    """Import one of the project's Salt modules as a plain Python module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def ext_root(tmp_path_factory):
    """A small file root holding only links to the custom modules (not the repository:
    the master would walk .venv and .git on every request)."""
    root = tmp_path_factory.mktemp("ext")
    for kind in EXTENSION_FOLDERS:
        (root / kind).symlink_to(REPO / kind)
    return root


@pytest.fixture(scope="session")
def systemd_root():
    """A tree with Debian's real /sbin/init -> /lib/systemd/systemd (systemd-sysv)."""
    return unpack_debian_packages("systemd", ["systemd", "systemd-sysv"])


@pytest.fixture(scope="session")
def sysvinit_root():
    """A tree with Debian's real sysvinit /sbin/init (sysvinit-core)."""
    return unpack_debian_packages("sysvinit", ["sysvinit-core"])


@pytest.fixture(scope="session")
def salt_master(salt_factories, ext_root):
    factory = salt_factories.salt_master_daemon(
        "master",
        overrides={
            "file_roots": {"base": [str(REPO / "salt"), str(ext_root)]},
            "pillar_roots": {"base": [str(REPO / "pillar")]},
        },
    )
    with factory.started():
        yield factory


@pytest.fixture(scope="session")
def salt_cli(salt_master):
    return salt_master.salt_cli(timeout=120)


@pytest.fixture(scope="session")
def salt_factories_default_root_dir(tmp_path_factory):
    # Short and inside pytest's temporary tree: daemons' sockets live below it.
    return tmp_path_factory.mktemp("sf")
