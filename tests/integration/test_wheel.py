"""The Salt extension: a wheel built from this repository, installed into a fresh
virtualenv, gives a minion the assist module, states, grain and beacon, and a master
the assist runners, with no file_roots."""

import json
import os
import signal
import subprocess
import sys
import sysconfig

import pytest

from tests.support import fakeagent, load_installed
from tests.support.wheel import build_wheel
from tests.unit.test_docs import PUBLIC


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def fresh_python(wheel, tmp_path_factory):
    """A new virtualenv with only the wheel installed; Salt itself comes from the test
    virtualenv through a .pth file, so nothing is compiled again."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.base_prefix + "/bin/python3", "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    (venv / site / "test-venv-salt.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True)
    return python


def salt_call(python, config_dir, *args):
    done = subprocess.run(
        [python, "-c", "import salt.scripts; salt.scripts.salt_call()",
         "--local", "-c", str(config_dir), "--out=json", "--retcode-passthrough", *args],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)["local"]


def test_the_installed_wheel_serves_module_grain_and_states_without_file_roots(fresh_python, tmp_path):
    agent = fakeagent.install(tmp_path / "root", init="sysvinit")
    try:
        agent.start()
        conf = tmp_path / "conf"
        conf.mkdir()
        (tmp_path / "empty").mkdir()
        (conf / "minion").write_text(
            f"file_client: local\nroot_dir: {tmp_path / 'minion'}\n"
            f"file_roots: {{base: [{tmp_path / 'empty'}]}}\n"
            f"assist: {{lookup: {{root: {tmp_path / 'root'}, run_image_programs: true}}}}\n"
        )
        status = salt_call(fresh_python, conf, "assist.status")
        assert status["client"]["running"] is True and status["daemon"]["installed"] is True
        assert salt_call(fresh_python, conf, "grains.get", "assist_agent")["installed"] is True
        state = salt_call(fresh_python, conf, "state.single", "assist.daemon_absent", "name=watchdog")
        (result,) = state.values()
        assert result["changes"] == {"daemon": {"old": "running", "new": "absent"}}
        assert agent.daemon_pids() == [] and agent.client_pids()
        # The user's manual, as `salt-call sys.doc assist` prints it from the package.
        docs = salt_call(fresh_python, conf, "sys.doc", "assist")
        assert sorted(docs) == sorted(f"assist.{name}" for name in PUBLIC)
        assert all("CLI Example:" in doc for doc in docs.values())
    finally:
        agent.cleanup()


def test_the_installed_wheel_serves_the_beacon_and_the_runners(fresh_python, tmp_path):
    agent = fakeagent.install(tmp_path / "root", init="sysvinit")
    try:
        agent.start()
        agent.daemon_path.unlink()  # the watchdog is gone: drift from the default policy
        for pid in agent.daemon_pids():
            os.kill(pid, signal.SIGKILL)
        (tmp_path / "empty").mkdir()
        (tmp_path / "minion").write_text(
            f"file_client: local\nroot_dir: {tmp_path / 'minion-root'}\n"
            f"file_roots: {{base: [{tmp_path / 'empty'}]}}\n"
            f"assist: {{lookup: {{root: {tmp_path / 'root'}, run_image_programs: true}}}}\n"
        )
        (tmp_path / "master").write_text(f"root_dir: {tmp_path / 'master-root'}\n")
        done = subprocess.run(
            [fresh_python, load_installed.__file__, tmp_path / "minion", tmp_path / "master"],
            capture_output=True, text=True,
        )
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout.splitlines()[-1])
        assert "/site-packages/saltext/assist/beacons/" in found["beacon_file"]
        assert "/site-packages/saltext/assist/runners/" in found["runner_file"]
        assert found["validate"] == [True, "Valid beacon configuration"]
        (event,) = found["events"]
        assert event["tag"].endswith("/assist/drift")
        assert event["data"]["drift"] == ["watchdog is absent, policy says present"]
        assert found["plan"]["error"].startswith("pillar assist_rollout:batch is 'ten'")
    finally:
        agent.cleanup()
