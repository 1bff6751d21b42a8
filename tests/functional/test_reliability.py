"""Reliability: order under a live watchdog, faults at every step, hostile settings.

A fault must end the call with an error naming the step, and the client must never be
stopped while a watchdog is still there to restart it.
"""

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from salt.exceptions import CommandExecutionError

from tests.functional.filesystems import read_only
from tests.functional.test_bad_input import tree
from tests.support import fakeagent
from tests.support.fakeagent import holds_for, wait_until

CYCLES = 50


def test_fifty_stop_start_cycles_under_a_live_watchdog(assist, agent, sandbox):
    for cycle in range(CYCLES):
        fakeagent.install(sandbox, init="sysvinit")  # the watchdog is back ...
        agent.start()  # ... and watching
        if cycle % 2:
            # The client dies just before the stop: the watchdog is restarting it
            # while the stop removes the watchdog.
            agent.kill_client()
        stopped = assist.stop()
        assert stopped["changes"]["daemon"]["new"] == "absent", cycle
        assert agent.daemon_pids() == [] and not os.path.exists(agent.daemon_dir), cycle
        assert holds_for(lambda: agent.client_pids() == [], 0.3), cycle
        report = assist.status()
        assert report["client"]["running"] is False and report["client"]["pids"] == [], cycle
        assert report["daemon"] == {**report["daemon"], "installed": False, "running": False}, cycle

        started = assist.start()
        assert started["changes"] == {"client": {"old": "stopped", "new": "running"}}, cycle
        # Start may have seen the client as `setsid CLIENT`, about to exec Python: under
        # load, /proc/PID/cmdline reads empty for a moment during that exec (seen here).
        assert wait_until(agent.client_pids, timeout=5), cycle
        report = assist.status()
        assert report["client"]["running"] is True and report["client"]["pids"] == agent.client_pids(), cycle


def client_untouched(agent, pids):
    return agent.client_pids() == pids


def test_watchdog_stop_failing_names_the_step_and_touches_nothing(assist, agent):
    pids = agent.client_pids()
    agent.set_fault("daemon-stop-fails")
    with pytest.raises(CommandExecutionError, match=r"stopping the watchdog \(assist_daemon --stop\) failed: .* exited 3"):
        assist.stop()
    assert client_untouched(agent, pids)
    assert agent.daemon_pids() and os.path.isfile(agent.daemon_path)


def test_watchdog_delete_failing_leaves_the_client_running(assist, agent):
    pids = agent.client_pids()
    agent.set_fault("daemon-delete-fails")
    with pytest.raises(CommandExecutionError, match=r"unregistering the watchdog \(assist_daemon --delete\) failed: .* exited 4"):
        assist.stop()
    assert client_untouched(agent, pids)
    assert os.path.isfile(agent.daemon_path)


def test_client_stop_failing_names_the_step_after_the_watchdog_is_gone(assist, agent):
    pids = agent.client_pids()
    agent.set_fault("client-stop-fails")
    with pytest.raises(
        CommandExecutionError, match="stopping the client failed: .*aliyun-service stop` exited 1: .*injected fault"
    ) as error:
        assist.stop()
    # What was done before the failure is said, and handed on as changes (a state shows them).
    assert error.value.error.endswith("injected fault). Changed before that: removed the watchdog.")
    assert error.value.info == {"changes": {"daemon": {"old": "running", "new": "absent"}}}
    assert client_untouched(agent, pids)
    assert agent.daemon_pids() == [] and not os.path.exists(agent.daemon_dir)
    status = assist.status()
    assert status["client"]["running"] is True and status["daemon"]["installed"] is False


def test_a_start_that_did_not_take_is_an_error_naming_the_command(assist, agent):
    # The init script's start exits 0 and starts nothing (as an UpStart job whose
    # pre-start finds its program gone): not reported as started.
    assist.stop()
    agent.set_fault("client-start-does-nothing")
    with pytest.raises(
        CommandExecutionError,
        match=r"^starting the client failed: `\S+/etc/init.d/aliyun-service start` succeeded but the client is not running 2 s later$",
    ):
        assist.start()
    assert agent.client_pids() == [] and assist.status()["client"]["running"] is False


def test_client_stop_hanging_past_the_timeout_is_an_error_not_a_hung_job(assist, agent, lookup):
    lookup["timeout"] = 2
    pids = agent.client_pids()
    agent.set_fault("client-stop-hangs")
    started = time.monotonic()
    with pytest.raises(CommandExecutionError, match="stopping the client failed: .*Timed out after 2 seconds"):
        assist.stop()
    assert time.monotonic() - started < 10
    assert client_untouched(agent, pids)


def test_an_init_script_that_is_not_executable_is_named(assist, agent):
    os.chmod(agent.sysv_script, 0o644)
    pids = agent.client_pids(), agent.daemon_pids()
    with pytest.raises(CommandExecutionError, match="init script /etc/init.d/aliyun-service is not executable"):
        assist.stop()
    assert (agent.client_pids(), agent.daemon_pids()) == pids


def test_an_unreadable_sbin_init_is_named(assist, agent, sandbox):
    init = sandbox / "sbin" / "init"
    init.unlink()
    init.symlink_to("/nonexistent/init")
    pids = agent.client_pids(), agent.daemon_pids()
    with pytest.raises(CommandExecutionError, match="detecting the init system failed: cannot read /sbin/init"):
        assist.stop()
    assert (agent.client_pids(), agent.daemon_pids()) == pids


def test_a_read_only_cache_directory_is_named_and_nothing_changes(aside, agent):
    cachedir, assist = aside.opts["cachedir"], aside.modules.assist
    pids = agent.client_pids(), agent.daemon_pids()
    with (
        read_only(cachedir) as words,
        pytest.raises(
            CommandExecutionError,
            match=f"taking the lock failed: cannot open .*assist.lock: {words}; .*The minion.s cache directory must be writable. Nothing was changed.",
        ),
    ):
        assist.stop()
    assert (agent.client_pids(), agent.daemon_pids()) == pids
    assert os.path.isfile(agent.daemon_path)


# ----------------------------------------------------------------- hostile settings

PROTECTED = ["/usr/local/share/aliyun-assist", "/etc/sysconfig/aliyun"]
segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..")
)
dangerous_dirs = st.one_of(
    st.sampled_from(["/", "/usr", "/usr/local", "/usr/local/share", "/etc", "/var", "/opt", "/tmp", "/root"]),
    st.sampled_from(PROTECTED + ["/usr/local/share", "/etc/sysconfig", "/usr/local"]),
    st.builds(lambda p, s: f"{p}/{s}", st.sampled_from(PROTECTED), segment),
    st.builds(lambda a, b: f"/{a}/../{b}", segment, segment),
    st.builds(lambda a, b: f"{a}/{b}", segment, segment),  # relative
    st.builds(lambda s: f"/{s}", segment),  # top level
)
shell_chars = st.sampled_from(list(";|&$`<>()[]{}*?! \n'\"\\#~"))
hostile_names = st.one_of(
    st.builds(lambda a, c, b: a + c + b, segment, shell_chars, segment),
    st.builds(lambda s: "-" + s, segment),
    st.sampled_from(["-rf", "--help", "", " ", "aliyun.service;reboot", "$(reboot)"]),
)
non_strings = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(segment, max_size=2),
    st.dictionaries(segment, segment, max_size=1),
)

HYPOTHESIS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def refused_without_change(assist, agent, sandbox, lookup, key, changes):
    before = tree(sandbox), agent.client_pids(), agent.daemon_pids()
    lookup.update(changes)
    try:
        with pytest.raises(CommandExecutionError, match=f"assist:lookup:{key}"):
            assist.stop()
    finally:
        for name in changes:
            lookup.pop(name, None)
    assert (tree(sandbox), agent.client_pids(), agent.daemon_pids()) == before


@HYPOTHESIS
@given(directory=dangerous_dirs)
def test_generated_dangerous_daemon_dirs_are_refused(assist, agent, sandbox, lookup, directory):
    changes = {"daemon_dir": directory, "daemon_path": directory.rstrip("/") + "/assist_daemon"}
    # Both settings carry the bad path; the first one checked is named.
    refused_without_change(assist, agent, sandbox, lookup, "daemon_(dir|path)", changes)


@HYPOTHESIS
@given(key=st.sampled_from(["systemd_unit", "upstart_job", "windows_service"]), name=hostile_names)
def test_generated_hostile_service_names_are_refused(assist, agent, sandbox, lookup, key, name):
    refused_without_change(assist, agent, sandbox, lookup, key, {key: name})


@HYPOTHESIS
@given(
    key=st.sampled_from(["root", "daemon_dir", "sysv_script", "init_system", "timeout", "systemd_unit"]),
    value=non_strings,
)
def test_generated_values_of_the_wrong_type_are_refused(assist, agent, sandbox, lookup, key, value):
    if key == "timeout" and type(value) in (int, float) and value > 0:
        value = -abs(value) - 1
    refused_without_change(assist, agent, sandbox, lookup, key, {key: value})
