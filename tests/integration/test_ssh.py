"""The product agentless: the real ``salt-ssh`` command line against a real sshd on
127.0.0.1, with the roster and master settings docs/agentless.md gives a user.

The target is this machine, reached over SSH as root with a throwaway key; the module
manages a fake agent in a sandbox root (``assist:lookup:root`` in the roster entry's
``minion_opts``). The roster entry also carries the grain ``assist_policy: frozen``, so
the repository's own pillar/top.sls puts the target in the frozen group.
"""

import os
import pwd
from pathlib import Path

import pytest
import salt.version
import yaml

from tests.conftest import REPO
from tests.integration.ssh import Sshd
from tests.support import fakeagent
from tests.support.fakeagent import holds_for

TARGET = "assist-ssh"
# python3 on root's PATH over SSH is a pyenv shim here (root's .bashrc puts the shims
# first), and salt-ssh's shim cannot run through it; the system's directories find
# /usr/bin/python3.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The one difference between releases. salt-ssh copies the extension folders of
# file_roots to the target, but Salt 3006 leaves _utils out (salt.client.ssh.mod_data
# lists "utils" from 3007 on), and the module will not load without
# _utils ("'assist' __virtual__ returned False: assist: the _utils folder ... is
# missing"). On 3006 the helpers travel inside Salt's thin tarball instead:
# thin_extra_mods names them, and salt-ssh imports them to pack them, so _utils is on
# salt-ssh's PYTHONPATH. docs/agentless.md gives users the same two settings. The same
# release's salt-ssh also hands Jinja an empty answer when a module raises, so a bad
# pillar value is named by assist.policy, not by the failed render.
UTILS_IN_THIN = salt.version.__saltstack_version__.info < (3007,)


def root_ssh_dir():
    return Path(pwd.getpwuid(0).pw_dir) / ".ssh"


def listing(folder):
    """{name: bytes} of a folder, or None when it does not exist."""
    if not folder.is_dir():
        return None
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


@pytest.fixture(scope="module")
def root_ssh_kept():
    """Root's own ~/.ssh is left as it was. The ssh client creates an empty ~/.ssh after
    its first connection when there is none; that folder is removed again."""
    folder = root_ssh_dir()
    before = listing(folder)
    yield
    if before is None and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    assert listing(folder) == before, f"{folder} changed during the salt-ssh tests"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory, root_ssh_kept):
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ssh_sandbox(tmp_path_factory):
    return tmp_path_factory.mktemp("ssh-target")


@pytest.fixture(scope="module")
def roster(sshd, ssh_sandbox, tmp_path_factory):
    """The roster file: one entry, as in docs/agentless.md."""
    entry = {
        "host": "127.0.0.1",
        "port": sshd.port,
        "user": "root",
        "priv": str(sshd.client_key),
        "set_path": SYSTEM_PATH,
        # Salt's thin copy and the remote minion's cache, in the test's folder rather
        # than /var/tmp.
        "thin_dir": str(tmp_path_factory.mktemp("ssh-thin") / "salt"),
        "minion_opts": {
            "grains": {"assist_policy": "frozen"},
            "assist": {"lookup": {"root": str(ssh_sandbox), "run_image_programs": True, "verify_seconds": 2}},
        },
    }
    path = sshd.dir / "roster"
    path.write_text(yaml.safe_dump({TARGET: entry}))
    return path


@pytest.fixture(scope="module")
def salt_ssh(salt_factories, ext_root, sshd, roster):
    """salt-ssh with its own master config (no master daemon runs; salt-ssh only reads
    the config): the state tree and the extension folders in file_roots, the
    repository's pillar, and the sshd's host key pinned in known_hosts_file."""
    settings = {
        "file_roots": {"base": [str(REPO / "salt"), str(ext_root)]},
        "pillar_roots": {"base": [str(REPO / "pillar")]},
        "known_hosts_file": str(sshd.known_hosts),
    }
    environ = dict(os.environ)
    if UTILS_IN_THIN:
        settings["thin_extra_mods"] = ",".join(sorted(path.stem for path in (REPO / "_utils").glob("assist_*.py")))
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "_utils"), environ.get("PYTHONPATH")]))
    master = salt_factories.salt_master_daemon("ssh-master", overrides=settings)
    return master.salt_ssh_cli(
        roster_file=str(roster), client_key=str(sshd.client_key), target_host=TARGET, timeout=180, environ=environ
    )


@pytest.fixture
def agent(ssh_sandbox):
    """A fresh, running fake agent in the target's sandbox; its never-delete trees are
    byte-identical after the test, whatever it did."""
    with fakeagent.running({"target": ssh_sandbox}) as agents:
        yield agents["target"]


def tree(root):
    """{relative path: (mode, bytes or link target)} of everything under root."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            content = os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else None
            found[str(path.relative_to(root))] = (st.st_mode, content)
    return found


def down_for(agent, seconds=1.0):
    return holds_for(lambda: agent.client_pids() == [], seconds)


def states_by_order(result):
    return sorted(result.values(), key=lambda state: state["__run_num__"])


def test_status_and_stop_over_ssh(salt_ssh, sshd, agent):
    status = salt_ssh.run("assist.status")
    assert status.returncode == 0, status
    assert "Accepted publickey for root" in sshd.log.read_text(), "salt-ssh did not log in through the test's sshd"
    assert status.data["client"]["running"] is True, status.data
    assert status.data["daemon"]["installed"] is True, status.data

    stop = salt_ssh.run("assist.stop")
    assert stop.returncode == 0, stop
    assert stop.data["changes"]["daemon"] == {"old": "running", "new": "absent"}, stop.data
    assert stop.data["changes"]["client"] == {"old": "running", "new": "stopped"}, stop.data
    assert down_for(agent), f"client processes after assist.stop: {agent.client_pids()}"
    assert agent.daemon_pids() == []
    assert not agent.daemon_dir.exists(), f"{agent.daemon_dir} is still there"

    again = salt_ssh.run("assist.stop")
    assert again.returncode == 0, again
    assert again.data["changes"] == {}, again.data


def test_state_apply_with_the_frozen_pillar_converges_then_holds(salt_ssh, agent):
    ret = salt_ssh.run("state.apply", "assist")
    assert ret.returncode == 0, ret
    states = states_by_order(ret.data)
    assert [s["__id__"] for s in states] == ["assist-daemon-absent", "assist-client-dead"], ret.data
    assert all(s["result"] is True for s in states), ret.data
    assert states[0]["changes"] == {"daemon": {"old": "running", "new": "absent"}}
    assert states[1]["changes"] == {
        "client": {"old": "running", "new": "stopped"},
        "enabled": {"old": True, "new": False},
    }
    assert down_for(agent), f"client processes after state.apply: {agent.client_pids()}"
    assert agent.daemon_pids() == [] and not agent.daemon_dir.exists()

    second = salt_ssh.run("state.apply", "assist")
    assert second.returncode == 0, second
    assert [s["changes"] for s in states_by_order(second.data)] == [{}, {}], second.data

    status = salt_ssh.run("assist.status")
    assert status.returncode == 0, status
    assert status.data["client"]["running"] is False, status.data
    assert status.data["client"]["enabled"] is False, status.data
    assert status.data["daemon"]["installed"] is False, status.data


def test_a_bad_pillar_value_fails_naming_the_key_and_changes_nothing(salt_ssh, agent):
    pids, files = (agent.client_pids(), agent.daemon_pids()), tree(agent.dest)
    ret = salt_ssh.run("state.apply", "assist", 'pillar={"assist": {"client": "sleeping"}}')
    assert ret.returncode != 0, ret
    if UTILS_IN_THIN:  # Salt 3006's salt-ssh drops the module's error; the SLS says where to look
        assert 'pillar assist could not be checked ({"client": "sleeping"' in str(ret.data), ret
        assert "salt-ssh HOST assist.policy`) names the bad key" in str(ret.data), ret
        check = salt_ssh.run("assist.policy", '{"client": "sleeping"}')
        assert 'pillar assist:client is \\"sleeping\\"; use running or dead' in str(check.stdout), check
    else:
        assert 'pillar assist:client is "sleeping"; use running or dead' in str(ret.data), ret
    assert (agent.client_pids(), agent.daemon_pids()) == pids
    assert tree(agent.dest) == files
