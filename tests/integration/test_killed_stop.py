"""A stop killed at any moment is finished by the next stop.

A real ``salt-call assist.stop`` (its own process group: salt-call and every command it
started) gets SIGKILL at many points: at moments spread over a whole stop, and at the
steps themselves (``assist_daemon --stop`` and ``--delete`` running, the watchdog's
directory renamed and being deleted, the client being stopped). The watchdog's folder
holds thousands of files, so the kill can land inside its deletion. After each kill a
second ``assist.stop`` must succeed, and leave no watchdog (process, binary, directory,
remainder) behind, the client down, and the registration files untouched.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.conftest import extension_dirs
from tests.support import fakeagent
from tests.support.fakeagent import holds_for

FILES_IN_WATCHDOG_DIR = 20000
TIMED_KILLS = 10  # spread over an uninterrupted stop's duration


@pytest.fixture(scope="module")
def salt_call(tmp_path_factory):
    """salt-call --local with the project's modules, pointed at a sandbox root."""
    base = tmp_path_factory.mktemp("kill")
    root = base / "root"
    root.mkdir()
    conf = base / "conf"
    conf.mkdir()
    (conf / "minion").write_text(
        yaml.safe_dump(
            {
                "id": "killed",
                "file_client": "local",
                "root_dir": str(base / "minion"),
                **extension_dirs(),
                "log_level_logfile": "quiet",
                "assist": {"lookup": {"root": str(root), "run_image_programs": True, "verify_seconds": 2}},
            }
        )
    )
    argv = [os.path.join(sys.prefix, "bin", "salt-call"), "-c", str(conf), "--local", "--out=json", "-l", "quiet", "assist.stop"]
    return argv, root


def install_crowded_agent(root):
    """A fresh fake agent whose watchdog folder holds thousands of files, running."""
    for entry in root.iterdir():
        subprocess.run(["rm", "-rf", str(entry)], check=True)
    agent = fakeagent.install(root, init="sysvinit")
    crowd = agent.daemon_dir / "data"
    for group in range(20):
        (crowd / str(group)).mkdir(parents=True)
        for number in range(FILES_IN_WATCHDOG_DIR // 20):
            (crowd / str(group) / f"{number}.log").write_bytes(b"x")
    agent.start()
    return agent


@pytest.fixture
def agent(salt_call):
    agent = install_crowded_agent(salt_call[1])
    never_delete = agent.protected_snapshot()
    yield agent
    agent.cleanup()
    assert agent.protected_snapshot() == never_delete


def remainder(agent):
    return agent.daemon_dir.with_name(f".{agent.daemon_dir.name}.assist-salt-removing")


def watchdog_verb_running(agent, verb):
    path = str(agent.daemon_path)
    return any(path in args[:2] and verb in args for args in map(fakeagent._cmdline, fakeagent._all_pids()))


def groups_left_in_deletion(agent, at_most):
    """The renamed folder is being deleted and at most this many of its 20 groups of
    files are left: progress on disk, not time, so a faster disk cannot outrun it."""
    try:
        return len(os.listdir(remainder(agent) / "data")) <= at_most
    except FileNotFoundError:  # not renamed yet, or that part already gone
        return False


def past_the_watchdog(agent):
    # The folder moves from its own name to the remainder's, then goes. Look at its own
    # name first: seen the other way round, a rename between the two looks would pass.
    return not agent.daemon_dir.exists() and not remainder(agent).exists()


# What to wait for before the kill; each names a step of the stop.
STEPS = {
    "assist_daemon --stop running": lambda agent: watchdog_verb_running(agent, "--stop"),
    "assist_daemon --delete running": lambda agent: watchdog_verb_running(agent, "--delete"),
    "directory renamed, deletion begun": lambda agent: remainder(agent).exists(),
    "deletion under way (a group of files gone)": lambda agent: groups_left_in_deletion(agent, 19),
    "deletion under way (half the files gone)": lambda agent: groups_left_in_deletion(agent, 10),
    "client being stopped": past_the_watchdog,
}


def kill_when(argv, ready, deadline_s=30.0):
    """Start the stop in its own process group; SIGKILL the group once ready() holds.
    Returns what was on disk at that moment's end, or None when the stop finished first."""
    job = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + deadline_s
    try:
        while job.poll() is None and time.monotonic() < deadline:
            if ready():
                os.killpg(job.pid, signal.SIGKILL)
                job.wait()
                return True
            time.sleep(0.001)
        return False
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()


def landing(agent):
    if agent.daemon_path.exists():
        return "watchdog whole"
    if remainder(agent).exists():
        return "inside the deletion"
    return "watchdog gone"


def finish_and_check(argv, agent):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not agent.daemon_dir.exists() and not remainder(agent).exists()
    assert sorted(os.listdir(agent.daemon_dir.parent)) == ["aliyun-assist"]  # no stray folders
    assert agent.daemon_pids() == []
    assert holds_for(lambda: agent.client_pids() == [], 1.0)


@pytest.fixture(scope="module")
def stop_seconds(salt_call):
    """How long an uninterrupted stop of a crowded watchdog takes here, salt-call's own
    start included; the timed kills are spread over it."""
    argv, root = salt_call
    agent = install_crowded_agent(root)
    try:
        started = time.monotonic()
        finish_and_check(argv, agent)
        return time.monotonic() - started
    finally:
        agent.cleanup()


# Where each step's kill must land: the watchdog whole (the next stop starts over), inside
# the deletion of its renamed folder (the next stop finishes it), or past it.
EXPECTED = {
    "assist_daemon --stop running": "watchdog whole",
    "assist_daemon --delete running": "watchdog whole",
    "directory renamed, deletion begun": "inside the deletion",
    "deletion under way (a group of files gone)": "inside the deletion",
    "deletion under way (half the files gone)": "inside the deletion",
    "client being stopped": "watchdog gone",
}


@pytest.mark.parametrize("step", STEPS)
def test_a_stop_killed_at_a_step_is_finished_by_the_next(salt_call, agent, step):
    argv, _ = salt_call
    assert kill_when(argv, lambda: STEPS[step](agent)), f"the stop finished before: {step}"
    assert landing(agent) == EXPECTED[step]
    finish_and_check(argv, agent)


def test_a_stop_killed_at_any_moment_is_finished_by_the_next(salt_call, stop_seconds):
    argv, root = salt_call
    landings = []
    for point in range(TIMED_KILLS):
        agent = install_crowded_agent(root)
        never_delete = agent.protected_snapshot()
        try:
            at = stop_seconds * (point + 0.5) / TIMED_KILLS
            started = time.monotonic()
            kill_when(argv, lambda started=started, at=at: time.monotonic() - started >= at)
            landings.append(landing(agent))
            finish_and_check(argv, agent)
        finally:
            agent.cleanup()
        assert agent.protected_snapshot() == never_delete, f"kill at {at:.2f} s"
    # Spread evenly, the kills caught the watchdog whole and the stop past it.
    assert {"watchdog whole", "watchdog gone"} <= set(landings), landings
