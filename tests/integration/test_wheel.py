"""The Salt extension installed as a user installs it, into a fresh virtualenv: the wheel
built from this repository, or the source tree installed editable (`pip install -e .`, as
Salt developers work). Either gives a minion the assist module, states, grain and beacon,
and a master the assist runners, with no file_roots; the editable install serves them
from the tree's own `_modules`, `_states`, ... folders, edits included."""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support import fakeagent, load_installed
from tests.support.wheel import build_wheel, copy_source, fresh_virtualenv, pip_install, purelib
from tests.unit.test_docs import PUBLIC

KINDS = ("modules", "states", "grains", "utils", "runners", "beacons")


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory):
    """A fresh virtualenv holding the wheel; where each kind of module lies in it."""
    scratch = tmp_path_factory.mktemp("wheel")
    python = fresh_virtualenv(scratch / "venv")
    pip_install(python, build_wheel(scratch))
    package = Path(purelib(python)) / "saltext" / "assist"
    return python, {kind: package / kind for kind in KINDS}


@pytest.fixture(scope="module")
def editable_install(tmp_path_factory):
    """A fresh virtualenv with a copy of the source tree installed editable (the copy: an
    editable install writes its egg-info into the tree); where each kind lies in the tree."""
    scratch = tmp_path_factory.mktemp("editable")
    python = fresh_virtualenv(scratch / "venv")
    tree = copy_source(scratch)
    pip_install(python, "--editable", tree)
    return python, {kind: tree / f"_{kind}" for kind in KINDS}


@pytest.fixture(params=["wheel_install", "editable_install"])
def installed(request):
    return request.getfixturevalue(request.param)


def minion_config(path, tmp_path):
    """A local minion's config: no modules in file_roots, the fake agent under its root."""
    (tmp_path / "empty").mkdir(exist_ok=True)
    path.write_text(
        f"file_client: local\nroot_dir: {tmp_path / 'minion-root'}\n"
        f"file_roots: {{base: [{tmp_path / 'empty'}]}}\n"
        f"assist: {{lookup: {{root: {tmp_path / 'root'}, run_image_programs: true}}}}\n"
    )


def salt_call(python, config_dir, *args):
    """`salt-call --local` through Salt's own command line, as the installed script runs it."""
    done = subprocess.run(
        [
            python,
            "-c",
            "import salt.scripts; salt.scripts.salt_call()",
            "--local",
            "-c",
            str(config_dir),
            "--out=json",
            "--retcode-passthrough",
            *args,
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)["local"]


@pytest.fixture
def agent(tmp_path):
    """A running fake agent on sysvinit under tmp_path/root, and a minion config for it."""
    agent = fakeagent.install(tmp_path / "root", init="sysvinit")
    try:
        agent.start()
        (tmp_path / "conf").mkdir()
        minion_config(tmp_path / "conf" / "minion", tmp_path)
        yield agent
    finally:
        agent.cleanup()


def test_the_installed_package_serves_module_grain_and_states_without_file_roots(installed, agent, tmp_path):
    python, _ = installed
    conf = tmp_path / "conf"
    assert salt_call(python, conf, "assist.init_system") == "sysvinit"
    status = salt_call(python, conf, "assist.status")
    assert status["client"]["running"] is True and status["daemon"]["installed"] is True
    assert salt_call(python, conf, "grains.get", "assist_agent")["installed"] is True
    state = salt_call(python, conf, "state.single", "assist.daemon_absent", "name=watchdog")
    (result,) = state.values()
    assert result["changes"] == {"daemon": {"old": "running", "new": "absent"}}
    assert agent.daemon_pids() == [] and agent.client_pids()
    # The user's manual, as `salt-call sys.doc assist` prints it from the package.
    docs = salt_call(python, conf, "sys.doc", "assist")
    assert sorted(docs) == sorted(f"assist.{name}" for name in PUBLIC)
    assert all("CLI Example:" in doc for doc in docs.values())


def test_the_installed_package_serves_every_kind_of_module_the_beacon_and_the_runners(installed, tmp_path):
    python, folders = installed
    agent = fakeagent.install(tmp_path / "root", init="sysvinit")
    try:
        agent.start()
        agent.daemon_path.unlink()  # the watchdog is gone: drift from the default policy
        for pid in agent.daemon_pids():
            os.kill(pid, signal.SIGKILL)
        minion_config(tmp_path / "minion", tmp_path)
        (tmp_path / "master").write_text(f"root_dir: {tmp_path / 'master-root'}\n")
        done = subprocess.run(
            [python, load_installed.__file__, tmp_path / "minion", tmp_path / "master"],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout.splitlines()[-1])
        assert {kind: str(Path(file).parent) for kind, file in found["files"].items()} == {
            kind: str(folder) for kind, folder in folders.items()
        }
        assert found["validate"] == [True, "Valid beacon configuration"]
        (event,) = found["events"]
        assert event["tag"].endswith("/assist/drift")
        assert event["data"]["drift"] == ["watchdog is absent, policy says present"]
        assert found["plan"]["error"].startswith("pillar assist_rollout:batch is 'ten'")
    finally:
        agent.cleanup()


def test_a_module_added_to_the_working_tree_runs_without_reinstalling(editable_install, tmp_path):
    """The editable install follows the tree: a new file in `_modules` is a new module."""
    python, folders = editable_install
    added = folders["modules"] / "assist_added.py"
    added.write_text("def where():\n    return __file__\n")
    try:
        (tmp_path / "conf").mkdir()
        minion_config(tmp_path / "conf" / "minion", tmp_path)
        assert salt_call(python, tmp_path / "conf", "assist_added.where") == str(added)
    finally:
        added.unlink()
