"""The assist_agent grain, computed through Salt's grains loader from the sandbox's files."""

import shutil
import subprocess

import pytest
import salt.loader


@pytest.fixture
def grain(loaders):
    """The grain as the minion computes it (the cached loaders.grains predates the agent)."""
    return lambda: salt.loader.grain_funcs(loaders.opts)["assist.assist_agent"]()["assist_agent"]


def test_the_grain_reports_init_system_installed_and_version(grain, agent):
    assert grain() == {"init_system": "sysvinit", "installed": True, "version": "2.5.3.650"}


def test_the_grain_says_not_installed_without_the_agent(grain, sandbox):
    shutil.rmtree(sandbox)
    sandbox.mkdir()
    assert grain() == {"init_system": None, "installed": False, "version": None}


def test_the_grain_runs_no_command(grain, agent, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"the grain ran a command: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    assert grain()["installed"] is True
