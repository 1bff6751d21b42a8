"""Fixtures shared by every tier."""

import importlib.util
import pathlib

import pytest
import salt._logging

REPO = pathlib.Path(__file__).resolve().parent.parent

# Salt's temporary log handler otherwise writes to a closed stream at exit.
salt._logging.shutdown_temp_handler()


def load_source(name, path):
    """Import one of the project's Salt modules as a plain Python module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def salt_factories_default_root_dir(tmp_path_factory):
    # Short and inside pytest's temporary tree: daemons' sockets live below it.
    return tmp_path_factory.mktemp("sf")
