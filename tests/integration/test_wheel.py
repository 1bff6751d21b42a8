"""The Salt extension: a wheel built from this repository, installed into a fresh
virtualenv, gives a minion the assist module, states and grain with no file_roots."""

import json
import shutil
import subprocess
import sys
import sysconfig

import pytest

from tests.conftest import REPO
from tests.support import fakeagent
from tests.unit.test_docs import PUBLIC


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Built from a copy of the source tree: setuptools writes build/ and *.egg-info next
    to the sources, and an egg-info in the repository would shadow the real install."""
    source = tmp_path_factory.mktemp("source") / "assist-salt"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "demo-work", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "bench"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source)],
        check=True,
    )
    (built,) = out.glob("saltext_assist-*.whl")
    return built


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
