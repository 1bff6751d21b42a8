"""Many jobs at once on one minion, and a minion that keeps answering after a fault."""

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

JOBS = 8


def send_at_once(salt_cli, functions, target):
    """One `salt` command per function, all started together; their returns in order.
    (salt_cli.run itself is not safe to call from several threads.)"""

    def run(function):
        done = subprocess.run(salt_cli.cmdline(function, minion_tgt=target), capture_output=True, text=True)
        return SimpleNamespace(returncode=done.returncode, data=json.loads(done.stdout)[target], stderr=done.stderr)

    with ThreadPoolExecutor(max_workers=len(functions)) as pool:
        return list(pool.map(run, functions))


def test_eight_stops_at_once_are_serialised_and_each_tells_what_it_did(salt_cli, agents):
    results = send_at_once(salt_cli, ["assist.stop"] * JOBS, "build-1")
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    changes = [r.data["changes"] for r in results]
    # Exactly one job found the agent running; the others found nothing to do.
    assert sorted(map(len, changes)) == [0] * (JOBS - 1) + [2], changes
    assert all(r.data["comment"] == "The client is stopped; nothing to do" for r in results if not r.data["changes"])
    assert agents["build-1"].client_pids() == [] and agents["build-1"].daemon_pids() == []


def test_stops_and_starts_at_once_end_consistent(salt_cli, agents):
    results = send_at_once(salt_cli, ["assist.stop", "assist.start"] * (JOBS // 2), "build-1")
    assert all(r.returncode == 0 and "Traceback" not in str(r.data) for r in results), [r.stderr for r in results]
    status = salt_cli.run("assist.status", minion_tgt="build-1").data
    pids = agents["build-1"].client_pids()
    assert status["client"]["running"] is bool(pids)
    assert status["client"]["pids"] == pids
    assert status["daemon"]["installed"] is False
    # The lock ran the jobs one after another, so the client's reported moves alternate
    # from the running start: stopped, running, stopped, ... and the last one is true.
    moves = [r.data["changes"]["client"]["new"] for r in results if "client" in r.data["changes"]]
    assert moves.count("stopped") - moves.count("running") in (0, 1), moves
    assert bool(pids) is (moves.count("stopped") == moves.count("running"))


@pytest.fixture
def one_second_timeout(salt_cli):
    """assist:lookup:timeout from a grain, merged with the minion config's root."""
    assert salt_cli.run("grains.setval", "assist", '{"lookup": {"timeout": 1}}', minion_tgt="web-1").returncode == 0
    yield
    # force=True: without it grains.delkey refuses a dict value and the grain would stay.
    assert salt_cli.run("grains.delkey", "assist", "force=True", minion_tgt="web-1").returncode == 0


def test_a_hung_stop_becomes_an_error_and_the_minion_keeps_answering(salt_cli, agents, one_second_timeout):
    agents["web-1"].set_fault("client-stop-hangs")
    ret = salt_cli.run("assist.stop", minion_tgt="web-1")
    assert ret.returncode != 0
    assert "stopping the client failed" in str(ret.data) and "Timed out after 1 seconds" in str(ret.data)
    assert salt_cli.run("test.ping", minion_tgt="web-1").data is True
    assert agents["web-1"].client_pids()
