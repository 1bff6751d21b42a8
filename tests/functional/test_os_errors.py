"""The system says no: a read-only /etc, a full /etc, a path in the way, a full or
read-only cache directory. On sysvinit, against the fake agent's real processes.

Every refusal is an error (a failed state in a state run) naming the step, the path,
the system's words and what to do, never a traceback. A refused change leaves nothing
half done, and the error says what the system is left with; what needs no room or no
write to /etc (stopping, starting, renaming links on a full disk) still works.
"""

import logging
import os

import pytest
import yaml
from salt.exceptions import CommandExecutionError

from tests.functional.filesystems import full, read_only
from tests.functional.test_bad_input import tree
from tests.functional.test_fleet import fire
from tests.functional.test_no_agent import FROZEN_SLS
from tests.support import fakeagent
from tests.support.fakeagent import holds_for, wait_until
from tests.support.refusals import refusal

REFUSED_REMOVAL = (
    "removing the watchdog failed: cannot change /etc/init.d (assist_daemon --delete unregisters the watchdog "
    "there): {words}; {advice}. Nothing was changed: the watchdog and the client are as they were."
)
REFUSED_BOOT = (
    "turning start at boot {on} failed: cannot rename /etc/rc2.d/{old}50aliyun-service to "
    "/etc/rc2.d/{new}50aliyun-service: {words}; {advice}. Start at boot is {was}, as it was."
)
# What to do, as the module says it for each of the system's words.
ADVICE = {
    "Read-only file system": "its file system is mounted read-only; remount it read-write and run again",
    "Permission denied": "the minion may not change it; run the minion as root, or correct the permissions",
    "No space left on device": "the file system is full; free space on it and run again",
}


def seen(agent):
    """What a user sees of the agent: its files (less var/, where a live watchdog's
    attempts leave pid files) and its processes."""
    files = {path: kind for path, kind in tree(agent.dest).items() if not path.startswith(f"{agent.dest}/var")}
    return files, agent.client_pids(), agent.daemon_pids()


def boot_refusal(on, words):
    old, new = ("K", "S") if on else ("S", "K")
    return REFUSED_BOOT.format(
        on="on" if on else "off", old=old, new=new, words=words, advice=ADVICE[words], was="off" if on else "on"
    )


@pytest.fixture
def states(loaders, lookup):
    return loaders.states.assist


@pytest.fixture
def full_fs():
    """filesystems.full, for a test that puts a folder on a full file system (it needs
    root: tests/conftest.py marks the tests that use this fixture)."""
    return full


def state_run(loaders, sls):
    """A state run of ``sls``: {state tag: its return}. Through state.high with each
    state's SLS named: Salt 3008's template_str gives its states none, and a failed
    requisite then ends in its own KeyError ('__sls__')."""
    loaders.context.clear()
    high = {}
    for state_id, body in yaml.safe_load(sls).items():
        ((module_function, arguments),) = body.items()
        module, function = module_function.split(".")
        high[state_id] = {module: [function, *arguments], "__sls__": "assist", "__env__": "base"}
    return loaders.modules.state.high(high).raw


# --------------------------------------------------------------------------- a read-only /etc


@pytest.mark.parametrize("call", ["remove_daemon", "stop", "stop test", "remove_daemon test"])
def test_a_read_only_etc_refuses_the_watchdogs_removal_before_anything_changes(assist, agent, call):
    verb, *test = call.split()
    before = seen(agent)
    with read_only(agent.dest / "etc") as words:
        assert refusal(getattr(assist, verb), test=bool(test)) == REFUSED_REMOVAL.format(words=words, advice=ADVICE[words])
    assert seen(agent) == before


def test_a_read_only_etc_refuses_start_at_boot_changes_and_every_link_stays(assist, agent):
    assist.remove_daemon()
    before = seen(agent)
    with read_only(agent.dest / "etc") as words:
        for call in (assist.disable, lambda: assist.stop(disable=True)):
            assert refusal(call) == boot_refusal(False, words)
    assert seen(agent) == before  # the client still runs: start at boot goes first
    assist.stop(disable=True)
    before = seen(agent)
    with read_only(agent.dest / "etc") as words:
        for call in (assist.enable, lambda: assist.start(enable=True)):
            assert refusal(call) == boot_refusal(True, words)
    assert seen(agent) == before  # the client was not started


def test_a_read_only_etc_lets_stop_start_and_restart_work(assist, agent):
    assist.remove_daemon()
    with read_only(agent.dest / "etc"):
        assert assist.stop()["changes"] == {"client": {"old": "running", "new": "stopped"}}
        assert holds_for(lambda: agent.client_pids() == [], 0.5)
        assert assist.start()["changes"] == {"client": {"old": "stopped", "new": "running"}}
        old = agent.client_pids()
        assert assist.restart()["changes"] == {"client": {"old": "running", "new": "restarted"}}
        assert agent.client_pids() and agent.client_pids() != old


def test_a_read_only_etc_fails_each_state_with_the_systems_words_and_changes_nothing(states, assist, agent, loaders):
    before = seen(agent)
    with read_only(agent.dest / "etc") as words:
        absent = states.daemon_absent("assist-daemon-absent")
        assert (absent.result, absent.changes) == (False, {})
        assert absent.comment == REFUSED_REMOVAL.format(words=words, advice=ADVICE[words])
        frozen = state_run(loaders, FROZEN_SLS)
    assert seen(agent) == before
    assert {key.split("_|-")[1]: value["result"] for key, value in frozen.items()} == {
        "assist-daemon-absent": False,
        "assist-client-dead": False,
    }
    assert all("Traceback" not in value["comment"] for value in frozen.values())

    assist.remove_daemon()
    before = seen(agent)
    with read_only(agent.dest / "etc") as words:
        dead = states.dead("assist-client-dead", enable=False)
        assert (dead.result, dead.changes, dead.comment) == (False, {}, boot_refusal(False, words))
        assert seen(agent) == before  # start at boot goes first: the client still runs
        dead = states.dead("assist-client-dead")
        assert (dead.result, dead.changes) == (True, {"client": {"old": "running", "new": "stopped"}})
        running = states.running("assist-client-running", enable=False)
        assert (running.result, running.changes, running.comment) == (False, {}, boot_refusal(False, words))
        assert agent.client_pids() == []
        running = states.running("assist-client-running")
        assert (running.result, running.changes) == (True, {"client": {"old": "stopped", "new": "running"}})
        old = agent.client_pids()
        watched = states.mod_watch("assist-client-running", sfun="running")
        assert (watched["result"], watched["changes"]) == (True, {"client": {"old": "running", "new": "restarted"}})
        assert agent.client_pids() and agent.client_pids() != old


# --------------------------------------------------------------------------- a full /etc


def test_a_full_etc_lets_every_change_that_needs_no_room_work(assist, agent, full_fs):
    # The watchdog's removal deletes and renames; start at boot on links that exist renames.
    with full_fs(agent.dest / "etc"):
        assert assist.remove_daemon()["changes"] == {"daemon": {"old": "running", "new": "absent"}}
        assert assist.stop()["changes"] == {"client": {"old": "running", "new": "stopped"}}
        assert agent.daemon_pids() == [] and holds_for(lambda: agent.client_pids() == [], 0.5)
        assert assist.disable()["changes"] == {"enabled": {"old": True, "new": False}}
        assert sorted(os.listdir(agent.dest / "etc" / "rc2.d")) == ["K50aliyun-service"]
        assert assist.start(enable=True)["changes"] == {
            "enabled": {"old": False, "new": True},
            "client": {"old": "stopped", "new": "running"},
        }
        assert assist.restart()["changes"] == {"client": {"old": "running", "new": "restarted"}}
        assert assist.status()["client"]["enabled"] is True


def test_a_full_etc_refuses_new_links_and_leaves_nothing_behind(assist, states, agent, full_fs):
    # Registered nowhere yet: turning start at boot on needs new links, which need room.
    assist.stop()
    for link in agent.dest.glob("etc/rc[0-6].d/[SK][0-9][0-9]aliyun-service"):
        link.unlink()
    with full_fs(agent.dest / "etc") as words:
        before = seen(agent)
        refused = (
            f"turning start at boot on failed: cannot make the link /etc/rc0.d/K02aliyun-service: {words}; "
            f"{ADVICE[words]}. Start at boot is off, as it was."
        )
        for call in (assist.enable, lambda: assist.start(enable=True)):
            assert refusal(call) == refused
        running = states.running("assist-client-running", enable=True)
        assert (running.result, running.changes, running.comment) == (False, {}, refused)
        assert seen(agent) == before  # no link made, no temporary file left, no client started
        dead = states.dead("assist-client-dead", enable=False)
        assert (dead.result, dead.changes) == (True, {})


def test_a_full_etc_lets_the_frozen_states_remove_the_watchdog_and_stop_the_client(loaders, lookup, agent, full_fs):
    with full_fs(agent.dest / "etc"):
        ret = state_run(loaders, FROZEN_SLS)
        assert all(value["result"] for value in ret.values()), ret
    assert agent.daemon_pids() == [] and agent.client_pids() == []


# --------------------------------------------------------------------------- a path in the way


def test_a_file_in_the_way_of_a_runlevel_folder_is_named_and_no_link_changes(assist, agent):
    assist.remove_daemon()
    rc3 = agent.dest / "etc" / "rc3.d"
    for link in rc3.iterdir():
        link.unlink()
    rc3.rmdir()
    rc3.write_text("not a folder\n")
    before = seen(agent)
    assert refusal(assist.disable) == (
        "turning start at boot off failed: cannot make the folder /etc/rc3.d: File exists; something else is in "
        "the way at that path; move it away and run again. Start at boot is on, as it was."
    )
    assert seen(agent) == before


def test_a_file_in_the_way_of_the_watchdogs_remainder_is_named_and_nothing_changes(assist, agent):
    remainder = agent.daemon_dir.parent / ".assist-daemon.assist-salt-removing"
    remainder.write_text("someone else's\n")
    before = seen(agent)
    with pytest.raises(
        CommandExecutionError,
        match=(
            r"^removing the watchdog failed: cannot use the name /usr/local/share/.assist-daemon.assist-salt-removing: "
            r"a file is there, where only a folder this module renamed belongs; something else is in the way .*Nothing was changed.$"
        ),
    ):
        assist.stop()
    assert seen(agent) == before


def test_a_folder_in_the_way_of_the_lock_is_named_and_nothing_changes(aside, agent):
    assist = aside.modules.assist
    os.mkdir(os.path.join(aside.opts["cachedir"], "assist.lock"))
    before = seen(agent)
    with pytest.raises(
        CommandExecutionError,
        match=(
            r"^taking the lock failed: cannot open .*/assist.lock: Is a directory; a folder is in the way where a file "
            r"belongs; move it away and run again. The minion's cache directory must be writable. Nothing was changed.$"
        ),
    ):
        assist.stop()
    assert seen(agent) == before


# --------------------------------------------------------------------------- the minion's cache directory


def test_a_full_cache_directory_is_named_and_nothing_changes(aside, agent, full_fs):
    cachedir, assist = aside.opts["cachedir"], aside.modules.assist
    before = seen(agent)
    with full_fs(cachedir) as words:
        assert refusal(assist.stop) == (
            f"taking the lock failed: cannot open {cachedir}/assist.lock: {words}; {ADVICE[words]}. "
            "The minion's cache directory must be writable. Nothing was changed."
        )
    assert seen(agent) == before


def test_the_beacon_says_the_drift_and_names_a_memory_it_cannot_keep(beacons, assist, agent, loaders, caplog):
    beacon = beacons()
    assert fire(beacon) == []  # compliant: remembered
    assist.stop()
    with read_only(loaders.opts["cachedir"]) as words, caplog.at_level(logging.WARNING):
        assert [what for what, _ in fire(beacon)] == ["drift"]
        assert fire(beacon, {"assist_paused": True}) == []  # a pause forgets: it cannot here
    said = [record.getMessage() for record in caplog.records if record.name.endswith("assist")]
    assert any("cannot remember the last event in" in line and words in line for line in said), said
    assert any("cannot forget the last event in" in line and words in line for line in said), said
    assert wait_until(lambda: agent.client_pids() == [])


def test_the_beacon_on_a_disk_full_of_data_leaves_no_file_behind(beacons, aside, assist, agent, full_fs, caplog):
    # A new file can be made but not written (Salt's atomic_open would leave its temporary
    # file there, one more each interval).
    cachedir = aside.opts["cachedir"]
    beacon = beacons(aside)
    assist.stop()
    with full_fs(cachedir, inodes_left=1) as words, caplog.at_level(logging.WARNING):
        before = sorted(os.listdir(cachedir))
        assert [what for what, _ in fire(beacon)] == ["drift"]
        assert [what for what, _ in fire(beacon)] == ["drift"]  # not remembered: said again
        assert sorted(os.listdir(cachedir)) == before
    said = [record.getMessage() for record in caplog.records if record.name.endswith("assist")]
    assert any("cannot remember the last event in" in line and words in line for line in said), said


# --------------------------------------------------------------------------- UpStart's job files

# UpStart's initctl as far as these tests ask it: its version (1.13.2 reads .override
# files). A stand-in: no UpStart runs here (tests/system boots the real one); start at
# boot on UpStart is files only, and those are real.
INITCTL = """#!/bin/sh
[ "$1" = --version ] && echo "initctl (upstart 1.13.2)" && exit 0
echo "initctl: not a real UpStart" >&2
exit 1
"""


@pytest.fixture
def upstart_root(tmp_path, lookup):
    """The fake agent for UpStart (its job files) in a root of the test's own, with the
    initctl above; nothing runs."""
    agent = fakeagent.install(tmp_path / "upstart", init="upstart")
    (agent.dest / "sbin" / "initctl").write_text(INITCTL)
    (agent.dest / "sbin" / "initctl").chmod(0o755)
    lookup.update(root=str(agent.dest), init_system="upstart")
    return agent.dest / "etc" / "init"


def refused_upstart_change(assist, upstart_root, refuse):
    """Turning start at boot off is refused on the job's folder, which stays as it was."""
    with refuse(upstart_root) as words:
        before = tree(upstart_root)
        assert refusal(assist.disable) == (
            f"turning start at boot off failed: cannot write /etc/init/aliyun-service.override: {words}; "
            f"{ADVICE[words]}. Start at boot is on, as it was."
        )
        assert tree(upstart_root) == before  # no override, no temporary file
    # Where the folder takes changes, the same call makes it, and reads it again.
    assert assist.disable()["changes"] == {"enabled": {"old": True, "new": False}}
    assert (upstart_root / "aliyun-service.override").read_text() == "manual\n"


def test_upstart_job_files_on_a_read_only_etc_are_left_as_they_were(assist, upstart_root):
    refused_upstart_change(assist, upstart_root, read_only)


def test_upstart_job_files_on_a_full_etc_are_left_as_they_were(assist, upstart_root, full_fs):
    refused_upstart_change(assist, upstart_root, full_fs)
