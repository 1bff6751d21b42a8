"""The state module in-process: it decides and reports, the execution module acts."""

import os

import pytest


@pytest.fixture
def states(loaders, lookup):
    return loaders.states.assist


def test_dead_without_removing_the_watchdog_fails_with_guidance(states, agent):
    pids = agent.client_pids()
    ret = states.dead("assist-client-dead")
    assert ret.result is False
    assert "an assist.daemon_absent state, required by the assist.dead state, which gets remove_daemon: True" in ret.comment
    assert ret.changes == {} and agent.client_pids() == pids


def test_dead_told_to_remove_the_watchdog_predicts_it_and_then_does_it_first(states, agent):
    """No `__running__` is read: the state says what assist.stop says, in test mode too."""
    predicted = states.dead("assist-client-dead", remove_daemon=True, test=True)
    assert predicted.result is None
    assert predicted.changes == {"daemon": {"old": "running", "new": "absent"}, "client": {"old": "running", "new": "stopped"}}
    assert agent.client_pids() and agent.daemon_pids()
    done = states.dead("assist-client-dead", remove_daemon=True)
    assert done.result is True and done.changes == predicted.changes
    assert agent.client_pids() == [] and agent.daemon_pids() == [] and not os.path.exists(agent.daemon_dir)


WATCHED_DEAD_SLS = """
config:
  file.managed:
    - name: {path}
    - contents: changed

assist-client-dead:
  assist.dead:
    - remove_daemon: true
    - watch:
      - file: config
"""


def test_a_watched_dead_state_is_met_when_what_it_watches_changes(loaders, agent, assist, tmp_path):
    """Salt calls mod_watch when a watched state changed and the watching one did not:
    as Salt's service.dead, the client is stopped (again) if it runs, and a stopped
    client is success with no changes, not 'does not support watch'."""
    trigger = tmp_path / "aliyun-assist.conf"
    assist.remove_daemon()
    first = loaders.modules.state.template_str(WATCHED_DEAD_SLS.format(path=trigger))
    assert not first.failed and agent.client_pids() == []
    trigger.write_text("edited by hand")
    ret = loaders.modules.state.template_str(WATCHED_DEAD_SLS.format(path=trigger))
    assert not ret.failed, ret.raw
    dead = next(v for k, v in ret.raw.items() if k.startswith("assist_|-assist-client-dead"))
    assert dead["result"] is True and dead["changes"] == {}
    assert agent.client_pids() == []


def test_daemon_absent_then_dead_stops_the_client(states, agent):
    absent = states.daemon_absent("assist-daemon-absent")
    assert absent.result is True
    assert absent.changes == {"daemon": {"old": "running", "new": "absent"}}
    dead = states.dead("assist-client-dead", enable=False)
    assert dead.result is True
    assert dead.changes == {"client": {"old": "running", "new": "stopped"}, "enabled": {"old": True, "new": False}}
    assert agent.client_pids() == [] and not os.path.exists(agent.daemon_dir)
    assert states.dead("assist-client-dead", enable=False).changes == {}


def test_test_mode_reports_none_with_predicted_changes(states, agent):
    ret = states.daemon_absent("assist-daemon-absent", test=True)
    assert ret.result is None
    assert ret.changes == {"daemon": {"old": "running", "new": "absent"}}
    assert ret.comment == "Would remove the watchdog"
    assert os.path.isfile(agent.daemon_path)


def test_running_starts_a_stopped_client_and_sets_start_at_boot(states, agent, assist):
    assist.stop(disable=True)
    ret = states.running("assist-client-running", enable=True)
    assert ret.result is True
    assert ret.changes == {"client": {"old": "stopped", "new": "running"}, "enabled": {"old": False, "new": True}}
    assert agent.client_pids()


def test_errors_become_a_failed_state_not_a_traceback(states, agent, lookup):
    lookup["daemon_dir"] = "/"
    ret = states.daemon_absent("assist-daemon-absent")
    assert ret.result is False
    assert ret.comment.startswith("assist:lookup:daemon_dir: '/' is refused")


def test_a_watched_running_state_restarts_the_client(loaders, agent, assist, tmp_path):
    assist.remove_daemon()
    old = agent.client_pids()
    trigger = tmp_path / "aliyun-assist.conf"
    sls = f"""
config:
  file.managed:
    - name: {trigger}
    - contents: changed

assist-client-running:
  assist.running:
    - watch:
      - file: config
"""
    ret = loaders.modules.state.template_str(sls)
    running = next(v for k, v in ret.raw.items() if k.startswith("assist_|-assist-client-running"))
    assert running["changes"] == {"client": {"old": "running", "new": "restarted"}}
    assert agent.client_pids() and agent.client_pids() != old


PREREQ_SLS = """
assist-daemon-absent:
  assist.daemon_absent: []

assist-client-dead:
  assist.dead:
    - remove_daemon: True
    - require:
      - assist: assist-daemon-absent
    - prereq:
      - file: agent-upgrade

agent-upgrade:
  file.managed:
    - name: {path}
    - contents: new version
"""


def test_prereq_stops_the_client_only_when_the_upgrade_will_change_something(loaders, agent, tmp_path):
    target = tmp_path / "upgrade"
    target.write_text("new version\n")
    ret = loaders.modules.state.template_str(PREREQ_SLS.format(path=target))
    assert not ret.failed
    assert agent.client_pids(), "nothing to upgrade: the client keeps running"

    target.write_text("old version")
    ret = loaders.modules.state.template_str(PREREQ_SLS.format(path=target))
    assert not ret.failed
    dead = next(v for k, v in ret.raw.items() if k.startswith("assist_|-assist-client-dead"))
    upgrade = next(v for k, v in ret.raw.items() if k.startswith("file_|-agent-upgrade"))
    assert dead["changes"]["client"] == {"old": "running", "new": "stopped"}
    assert dead["__run_num__"] < upgrade["__run_num__"]
    assert agent.client_pids() == []
