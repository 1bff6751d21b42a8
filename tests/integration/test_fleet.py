"""The product through a real salt-master and minions, as an operator drives it."""

import pytest

from tests.integration.conftest import FLEET
from tests.support.fakeagent import holds_for


def down_for(agent, seconds=1.0):
    return holds_for(lambda: agent.client_pids() == [], seconds)


def test_status_and_stop_across_all_minions_at_once(salt_cli, agents):
    status = salt_cli.run("assist.status", minion_tgt=FLEET)
    assert status.returncode == 0, status
    assert set(status.data) == set(agents)
    for name, report in status.data.items():
        assert report["client"]["running"] is True, name
        assert report["daemon"]["installed"] is True, name

    stop = salt_cli.run("assist.stop", minion_tgt=FLEET)
    assert stop.returncode == 0, stop
    for name, agent in agents.items():
        assert stop.data[name]["changes"]["daemon"] == {"old": "running", "new": "absent"}
        assert stop.data[name]["changes"]["client"] == {"old": "running", "new": "stopped"}
        assert down_for(agent), name
        assert agent.daemon_pids() == []

    again = salt_cli.run("assist.stop", minion_tgt=FLEET)
    assert all(ret["changes"] == {} for ret in again.data.values())


def states_by_order(result):
    """State results of one minion, in the order they ran."""
    return sorted(result.values(), key=lambda state: state["__run_num__"])


def test_highstate_puts_each_group_into_its_policy(salt_cli, agents):
    ret = salt_cli.run("state.highstate", minion_tgt=FLEET)
    assert ret.returncode == 0, ret

    # web-1, no group: nothing changes on a healthy instance.
    assert [s["changes"] for s in states_by_order(ret.data["web-1"])] == [{}]
    assert agents["web-1"].client_pids() and agents["web-1"].daemon_pids()

    # db-1, frozen: the watchdog's removal runs before the client's stop.
    frozen = states_by_order(ret.data["db-1"])
    assert [s["__id__"] for s in frozen] == ["assist-daemon-absent", "assist-client-dead"]
    assert frozen[0]["changes"] == {"daemon": {"old": "running", "new": "absent"}}
    assert frozen[1]["changes"] == {
        "client": {"old": "running", "new": "stopped"},
        "enabled": {"old": True, "new": False},
    }
    assert down_for(agents["db-1"])

    # build-1, unwatched: the watchdog goes, the client keeps running.
    unwatched = states_by_order(ret.data["build-1"])
    assert [s["__id__"] for s in unwatched] == ["assist-daemon-absent", "assist-client-running"]
    assert unwatched[1]["changes"] == {}
    assert agents["build-1"].client_pids() and not agents["build-1"].daemon_pids()

    second = salt_cli.run("state.highstate", minion_tgt=FLEET)
    assert second.returncode == 0, second
    for name, result in second.data.items():
        assert all(state["changes"] == {} for state in result.values()), name


def test_highstate_test_mode_predicts_and_changes_nothing(salt_cli, agents):
    pids = {name: (a.client_pids(), a.daemon_pids()) for name, a in agents.items()}
    ret = salt_cli.run("state.highstate", "test=True", minion_tgt="db-1")
    frozen = states_by_order(ret.data)
    assert [s["result"] for s in frozen] == [None, None]
    assert frozen[0]["changes"] == {"daemon": {"old": "running", "new": "absent"}}
    # The dead state's prediction names the watchdog's removal too: in a test run the
    # required daemon_absent has not removed it.
    assert frozen[1]["changes"] == {
        "daemon": {"old": "running", "new": "absent"},
        "client": {"old": "running", "new": "stopped"},
        "enabled": {"old": True, "new": False},
    }
    assert {name: (a.client_pids(), a.daemon_pids()) for name, a in agents.items()} == pids


@pytest.fixture
def web_1_moved_to_frozen(salt_cli):
    """web-1 joins the frozen group the way an operator does it: a grain and a refresh."""
    assert salt_cli.run("grains.setval", "assist_policy", "frozen", minion_tgt="web-1").returncode == 0
    assert salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt="web-1").returncode == 0
    yield
    salt_cli.run("grains.delkey", "assist_policy", minion_tgt="web-1")
    salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt="web-1")


def test_moving_a_minion_to_another_group_converges_it(salt_cli, agents, web_1_moved_to_frozen):
    ret = salt_cli.run("state.highstate", minion_tgt="web-1")
    assert ret.returncode == 0, ret
    assert [s["__id__"] for s in states_by_order(ret.data)] == ["assist-daemon-absent", "assist-client-dead"]
    assert down_for(agents["web-1"]) and not agents["web-1"].daemon_pids()


BAD_PILLAR = {
    '{"assist": {"client": "stopped"}}': 'pillar assist:client is "stopped"; use running or dead',
    '{"assist": {"daemon": "gone"}}': 'pillar assist:daemon is "gone"; use present or absent',
    '{"assist": {"enable": "sometimes"}}': 'pillar assist:enable is "sometimes"',
    '{"assist": {"client": "dead", "daemon": "present"}}': "assist:client is dead while assist:daemon is present",
}


def test_bad_pillar_values_fail_clearly_and_change_nothing(salt_cli, agents):
    pids = agents["build-1"].client_pids(), agents["build-1"].daemon_pids()
    for pillar, message in BAD_PILLAR.items():
        ret = salt_cli.run("state.highstate", f"pillar={pillar}", minion_tgt="build-1")
        assert ret.returncode != 0, pillar
        assert message in str(ret.data), (pillar, ret.data)
    assert (agents["build-1"].client_pids(), agents["build-1"].daemon_pids()) == pids


@pytest.fixture
def web_1_without_agent(agents):
    """web-1 as an instance without the agent; its files are put back afterwards."""
    agents["web-1"].cleanup()
    installed = agents["web-1"].dest / "usr" / "local" / "share" / "aliyun-assist"
    aside = installed.with_name("aliyun-assist.aside")
    installed.rename(aside)
    yield
    aside.rename(installed)


def test_minions_can_be_targeted_by_the_assist_grain(salt_cli, agents, web_1_without_agent):
    assert salt_cli.run("saltutil.refresh_grains", minion_tgt=FLEET).returncode == 0
    grains = salt_cli.run("grains.get", "assist_agent", minion_tgt=FLEET).data
    assert grains["build-1"] == {"init_system": "sysvinit", "installed": True, "version": "2.5.3.650"}
    assert grains["web-1"]["installed"] is False
    ret = salt_cli.run("-G", "assist.is_running", minion_tgt="assist_agent:installed:True")
    assert sorted(ret.data) == ["build-1", "db-1"]
