"""An upgrade in place, as a file_roots user makes it: new files on the master,
``saltutil.sync_all``, no minion restart. Release 2 is this tree with a function added
to the execution module that calls a function added to a helper (the defect: the new
module ran over the old helpers until the minion restarted), and a new version.

Its own master serves a copy of the extension folders that the test rewrites. Two
minions, one with multiprocessing on (Salt's default: jobs fork from the main process)
and one with it off (jobs are threads of it), each with the grain and the ``assist``
beacon loading the helpers in the main process before the upgrade."""

import os
import pathlib
import shutil
import time

import pytest

from tests.conftest import EXTENSION_FOLDERS, REPO, all_started

RELEASE_2 = "0.3.0+upgrade-test"
MINIONS = {"up-forks": {"multiprocessing": True}, "up-threads": {"multiprocessing": False}}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """The master's file root: a copy of the extension folders, as a user keeps them."""
    root = tmp_path_factory.mktemp("release")
    for folder in EXTENSION_FOLDERS:
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="module")
def fleet(salt_factories, release, tmp_path_factory):
    master = salt_factories.salt_master_daemon("upgrade-master", overrides={"file_roots": {"base": [str(release)]}})
    minions = {
        name: master.salt_minion_daemon(
            name,
            overrides={
                **options,
                # No agent in its sandbox: the audit drifts, so the beacon says so and
                # remembers it (its memory file shows it ran in the main process).
                "assist": {"lookup": {"root": str(tmp_path_factory.mktemp(name)), "init_system": "sysvinit"}},
                "beacons": {"assist": [{"interval": 1}]},
            },
        )
        for name, options in MINIONS.items()
    }
    with all_started([master], minions.values()):
        yield master, minions


def call(master, function, *args):
    ret = master.salt_cli(timeout=60).run(function, *args, minion_tgt="up-*")
    assert set(ret.data) == set(MINIONS), ret
    return ret.data


def beacon_ran(minion):
    """Wait for the beacon's first audit, run in the minion's main process."""
    memory = minion.config["cachedir"] + "/assist.beacon.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if os.path.exists(memory):
            return True
        time.sleep(0.5)
    return False


def write_release_2(root, version):
    """Release 2's files, written as a sync writes them: a helper gains a function, the
    module a verb that calls it, and every file that names the release says the new one."""
    with open(root / "_utils" / "assist_init.py", "a", encoding="utf-8") as handle:
        handle.write('\n\ndef release_two():\n    return "helpers of release 2"\n')
    with open(root / "_modules" / "assist.py", "a", encoding="utf-8") as handle:
        handle.write('\n\ndef release_two():\n    """The new verb.\n\n    CLI Example: salt \'*\' assist.release_two\n    """\n')
        handle.write("    return assist_init.release_two()\n")
    set_version(root, version, "_modules/assist.py", "_grains/assist.py", "_utils/assist_release.py")


def set_version(root, version, *files):
    for name in files:
        path = root / name
        text = path.read_text()
        for line in text.splitlines():
            if line.startswith(("__version__ = ", "VERSION = ")):
                text = text.replace(line, f'{line.split(" = ")[0]} = "{version}"')
        path.write_text(text)


def test_a_release_synced_into_running_minions_runs_whole(fleet, release):
    master, minions = fleet
    assert set(call(master, "saltutil.sync_all")) == set(MINIONS)
    release_1 = call(master, "assist.version")
    assert {name: found["extension"] for name, found in release_1.items()} == dict.fromkeys(MINIONS, "0.3.0")
    # The old helpers are in each main process: the grain loaded them, the beacon ran.
    assert all(beacon_ran(minion) for minion in minions.values())
    assert all(
        found["assist_agent"]["init_system"] == "sysvinit" for found in call(master, "grains.item", "assist_agent").values()
    )

    write_release_2(release, RELEASE_2)
    call(master, "saltutil.sync_all")

    assert call(master, "assist.release_two") == dict.fromkeys(MINIONS, "helpers of release 2")
    assert {name: found["extension"] for name, found in call(master, "assist.version").items()} == dict.fromkeys(
        MINIONS, RELEASE_2
    )
    # The beacon and the grain in the main process run the new release too.
    assert all(found["assist_agent"]["installed"] is False for found in call(master, "grains.item", "assist_agent").values())
    for minion in minions.values():
        (pathlib.Path(minion.config["cachedir"]) / "assist.beacon.json").unlink()
    assert all(beacon_ran(minion) for minion in minions.values())


def test_a_module_synced_without_its_helpers_is_refused_in_words(fleet, release):
    master, _ = fleet
    set_version(release, "9.9.9", "_modules/assist.py")
    try:
        call(master, "saltutil.sync_modules")
        said = call(master, "assist.version")
    finally:
        set_version(release, RELEASE_2, "_modules/assist.py")
        call(master, "saltutil.sync_all")
    for words in said.values():
        assert "'assist' __virtual__ returned False: assist: this module is release 9.9.9 but the helpers" in words
        assert "run saltutil.sync_all" in words
