"""The project served from git, as docs/installing.md says: the repository as a gitfs
remote twice (its state tree from ``salt/``, its extension folders from the top), here a
local ``file://`` repository with GitPython. Release 1 is installed from it; a new commit
is pushed; ``salt-run fileserver.update`` and ``saltutil.sync_all`` bring it to the
running minion, which then runs it whole."""

import shutil
import subprocess

import pytest

from tests.conftest import EXTENSION_FOLDERS, REPO, all_started
from tests.integration.test_upgrade import write_release_2

RELEASE_2 = "0.3.0+gitfs-test"


def git(*args, cwd):
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    """A clone of the project's release in a work tree, and the bare repository it pushes
    to (the remote the master reads)."""
    base = tmp_path_factory.mktemp("git")
    work, origin = base / "work", base / "origin.git"
    for folder in (*EXTENSION_FOLDERS, "salt", "pillar"):
        shutil.copytree(REPO / folder, work / folder, ignore=shutil.ignore_patterns("__pycache__"))
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-m", "release 1", cwd=work)
    git("clone", "-q", "--bare", str(work), str(origin), cwd=base)
    git("remote", "add", "origin", str(origin), cwd=work)
    return work, origin


@pytest.fixture(scope="module")
def fleet(salt_factories, repository, tmp_path_factory):
    _, origin = repository
    url = f"file://{origin}"
    master = salt_factories.salt_master_daemon(
        "gitfs-master",
        overrides={
            # As docs/installing.md gives it.
            "fileserver_backend": ["gitfs"],
            "gitfs_provider": "gitpython",
            "gitfs_remotes": [
                {url: [{"name": "assist-states"}, {"root": "salt"}, {"base": "main"}]},
                {url: [{"name": "assist-extensions"}, {"base": "main"}]},
            ],
            "ext_pillar": [],
            "pillar_roots": {"base": [str(REPO / "pillar")]},
        },
    )
    minion = master.salt_minion_daemon(
        "gitfs-minion",
        overrides={"assist": {"lookup": {"root": str(tmp_path_factory.mktemp("gitfs-minion")), "init_system": "sysvinit"}}},
    )
    with all_started([master], [minion]):
        yield master


def call(master, function, *args):
    ret = master.salt_cli(timeout=90).run(function, *args, minion_tgt="gitfs-minion")
    assert ret.returncode == 0, ret
    return ret.data


def test_a_release_pushed_to_the_gitfs_remote_reaches_the_running_minion_whole(fleet, repository):
    master = fleet
    work, _ = repository
    assert "modules.assist" in call(master, "saltutil.sync_all")["modules"]
    assert call(master, "assist.version")["extension"] == "0.3.0"
    # The state tree comes from the same remote: state.show_sls renders salt/assist/init.sls.
    assert any(state.startswith("assist-") for state in call(master, "state.show_sls", "assist"))

    write_release_2(work, RELEASE_2)
    git("-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-q", "-am", "release 2", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    update = master.salt_run_cli(timeout=90).run("fileserver.update")
    assert update.returncode == 0, update

    call(master, "saltutil.sync_all")
    assert call(master, "assist.release_two") == "helpers of release 2"
    assert call(master, "assist.version")["extension"] == RELEASE_2
