"""Start at boot on UpStart 0.6.5, RHEL/CentOS 6's init, through the salt-master.

0.6.5 reads no `.override` files (they came in 1.3) and knows no `manual` stanza (0.6.7):
the one way to keep a job from starting at boot while it stays startable by hand is to
comment out the `start on` stanza of its `.conf`. Runs after test_init_systems.py, which
leaves this container's client running with the watchdog removed.
"""

import re

from tests.system.conftest import reboot, settle

MINION = "sys-upstart-0.6.5"
JOB = "/etc/init/aliyun-service.conf"


def starts_at_boot(box):
    """Whether the job file still has an active `start on` stanza."""
    text = (box.root / JOB.lstrip("/")).read_text()
    return any(re.match(r"\s*start\s+on\b", line) for line in text.splitlines())


def test_the_frozen_policy_keeps_the_client_down_across_a_reboot_and_it_still_starts_by_hand(salt_cli, boxes):
    box = boxes["upstart-0.6.5"]
    box.put_watchdog_back()
    ret = salt_cli.run("state.highstate", minion_tgt=MINION)
    assert ret.returncode == 0, ret
    order = sorted(ret.data.values(), key=lambda s: s["__run_num__"])
    assert [s["__id__"] for s in order] == ["assist-daemon-absent", "assist-client-dead"]
    assert order[1]["changes"]["enabled"] == {"old": True, "new": False}
    settle()
    assert box.job_state() == ("stop/waiting", None)
    assert box.watchdog_processes() == [] and not box.watchdog_installed()

    reboot(box)
    settle(3)
    assert box.job_state() == ("stop/waiting", None), "UpStart 0.6.5 started the client at boot"
    assert box.client_processes() == []
    assert not starts_at_boot(box)
    assert box.initctl("status", "aliyun-service").returncode == 0  # the job is still known
    status = salt_cli.run("assist.status", minion_tgt=MINION).data["client"]
    assert (status["running"], status["enabled"]) == (False, False)

    second = salt_cli.run("state.highstate", minion_tgt=MINION)
    assert second.returncode == 0, second
    assert all(state["changes"] == {} for state in second.data.values())

    started = salt_cli.run("assist.start", minion_tgt=MINION)
    assert started.returncode == 0, started
    assert started.data["changes"] == {"client": {"old": "stopped", "new": "running"}}
    state, pid = box.job_state()
    assert state == "start/running" and box.client_processes() == [str(pid)]


def test_enable_restores_the_job_file_byte_for_byte_and_the_client_starts_at_boot_again(salt_cli, boxes):
    box = boxes["upstart-0.6.5"]
    ret = salt_cli.run("assist.enable", minion_tgt=MINION)
    assert ret.returncode == 0, ret
    assert ret.data["changes"] == {"enabled": {"old": False, "new": True}}
    assert (box.root / JOB.lstrip("/")).read_bytes() == box.shipped_job
    again = salt_cli.run("assist.enable", minion_tgt=MINION)
    assert again.data["changes"] == {}

    stopped = salt_cli.run("assist.stop", minion_tgt=MINION)
    assert stopped.returncode == 0, stopped
    reboot(box)
    settle(3)
    state, pid = box.job_state()
    assert state == "start/running" and box.client_processes() == [str(pid)]
    status = salt_cli.run("assist.status", minion_tgt=MINION).data["client"]
    assert (status["running"], status["enabled"]) == (True, True)
