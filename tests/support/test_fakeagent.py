"""Tests of the fake Cloud Assistant agent (tests/support/fakeagent.py)."""

import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fakeagent import _alive, _cmdline, bare, install, wait_until

VERSION = "2.5.3.650"


def run(*cmd, timeout=15):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def procs_referencing(path):
    prefix = str(path) + "/"
    return [
        pid
        for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
        if pid != os.getpid() and _alive(pid) and any(prefix in a for a in _cmdline(pid))
    ]


@pytest.fixture
def agent(tmp_path):
    fake = install(tmp_path / "root")
    yield fake
    fake.cleanup()


@pytest.fixture
def running(agent):
    agent.start()
    return agent


def test_install_sysvinit_files_and_modes(agent):
    root = agent.dest
    assert agent.client_path == root / f"usr/local/share/aliyun-assist/{VERSION}/aliyun-service"
    assert agent.daemon_path == root / "usr/local/share/assist-daemon/assist_daemon"
    assert agent.sysv_script == root / "etc/init.d/aliyun-service"
    for exe in (agent.client_path, agent.daemon_path, agent.sysv_script, root / "etc/init.d/assist-daemon"):
        assert mode(exe) == 0o755, exe
    assert (root / "usr/local/share/aliyun-assist/version").read_text() == VERSION + "\n"
    for rel in ("hybrid/instance-id", "hybrid/machine-id", "region-id", "config/aliyun-assist.conf", "plugin/installed_plugins"):
        assert (root / "usr/local/share/aliyun-assist" / rel).stat().st_size > 0
    assert (root / "etc/sysconfig/aliyun").is_file()
    assert "respawn" in (root / "etc/init/aliyun-service.conf").read_text()

    script = agent.sysv_script.read_text()
    assert script.startswith("#!/bin/sh\n")
    assert "# Provides:          aliyun-service" in script
    assert "# Default-Start:     2 3 4 5" in script
    assert "# Default-Stop:      0 1 6" in script
    for level in "2345":
        assert os.readlink(root / f"etc/rc{level}.d/S50aliyun-service") == "../init.d/aliyun-service"
        assert os.readlink(root / f"etc/rc{level}.d/S51assist-daemon") == "../init.d/assist-daemon"
    for level in "016":
        assert os.readlink(root / f"etc/rc{level}.d/K02aliyun-service") == "../init.d/aliyun-service"
        assert os.readlink(root / f"etc/rc{level}.d/K01assist-daemon") == "../init.d/assist-daemon"
    assert not (root / "etc/systemd").exists()

    marker = (root / "sbin/init").read_bytes()
    assert b"INIT_VERSION=sysvinit-3.06" in marker and b"/lib/system" not in marker
    assert b"upstart" not in marker and b"\0" in marker


def test_install_systemd_for_a_container_root(tmp_path):
    fake = install(tmp_path, init="systemd", runtime_root="/", init_marker=False)
    units = tmp_path / "etc/systemd/system"
    client_unit = (units / "aliyun.service").read_text()
    for line in (
        f"ExecStart=/usr/local/share/aliyun-assist/{VERSION}/aliyun-service",
        "Restart=on-failure",
        "RestartSec=120",
        "KillMode=process",
        "WantedBy=multi-user.target",
    ):
        assert line in client_unit.splitlines()
    daemon_unit = (units / "AssistDaemon.service").read_text().splitlines()
    assert "ExecStart=/usr/local/share/assist-daemon/assist_daemon" in daemon_unit
    assert "Restart=always" in daemon_unit
    wants = units / "multi-user.target.wants"
    assert os.readlink(wants / "aliyun.service") == "/etc/systemd/system/aliyun.service"
    assert os.readlink(wants / "AssistDaemon.service") == "/etc/systemd/system/AssistDaemon.service"
    assert not (tmp_path / "etc/init.d").exists()
    assert not (tmp_path / "sbin/init").exists()
    # Paths baked into the scripts are the container's, not the host's.
    assert "ROOT = '/'" in fake.daemon_path.read_text()
    assert str(tmp_path) not in fake.daemon_path.read_text()
    assert fake.runtime_path(fake.client_path) == f"/usr/local/share/aliyun-assist/{VERSION}/aliyun-service"


def test_systemd_init_marker(tmp_path):
    install(tmp_path, init="systemd")
    marker = (tmp_path / "sbin/init").read_bytes()
    assert b"/lib/system" in marker and b"sysvinit" not in marker


def test_delete_on_systemd_removes_units(tmp_path):
    fake = install(tmp_path, init="systemd")
    assert run(fake.daemon_path, "--delete").returncode == 0
    units = tmp_path / "etc/systemd/system"
    assert not os.path.lexists(units / "multi-user.target.wants/AssistDaemon.service")
    assert not (units / "AssistDaemon.service").exists()
    assert (units / "aliyun.service").exists()
    assert fake.daemon_path.exists()


def test_install_upstart_for_a_container_root(tmp_path):
    """The vendor's job for the client, and the watchdog's job beside it."""
    install(tmp_path, init="upstart", runtime_root="/", init_marker=False)
    jobs = tmp_path / "etc/init"
    client_job = (jobs / "aliyun-service.conf").read_text().splitlines()
    for line in (
        "start on runlevel [2345]",
        "stop on runlevel [!2345]",
        "respawn",
        f"exec /usr/local/share/aliyun-assist/{VERSION}/aliyun-service",
    ):
        assert line in client_job
    daemon_job = (jobs / "assist-daemon.conf").read_text().splitlines()
    assert "exec /usr/local/share/assist-daemon/assist_daemon" in daemon_job
    assert "respawn" in daemon_job
    assert not (tmp_path / "etc/init.d").exists() and not (tmp_path / "etc/systemd").exists()
    assert not (jobs / "aliyun-service.override").exists()


def test_delete_on_upstart_removes_the_watchdogs_job_only(tmp_path):
    fake = install(tmp_path, init="upstart")
    assert b"upstart" in (tmp_path / "sbin/init").read_bytes()
    assert run(fake.daemon_path, "--delete").returncode == 0
    assert not (tmp_path / "etc/init/assist-daemon.conf").exists()
    assert (tmp_path / "etc/init/aliyun-service.conf").exists()
    assert fake.daemon_path.exists()


@pytest.mark.parametrize("flag", ["-v", "--version"])
def test_client_prints_version(agent, flag):
    result = run(agent.client_path, flag)
    assert (result.returncode, result.stdout) == (0, VERSION + "\n")


def test_start_brings_up_client_and_watchdog(running):
    [client] = running.client_pids()
    [daemon] = running.daemon_pids()
    root = running.dest
    assert (root / "var/run/aliyun-service.pid").read_text().strip() == str(client)
    assert (root / "var/tmp/aliyun-service.pid").read_text().strip() == str(client)
    assert (root / "var/run/assist_daemon.pid").read_text().strip() == str(daemon)
    # Starting again changes nothing.
    assert run(running.sysv_script, "start").stdout == "Running\n"
    assert run(running.daemon_path, "--start").returncode == 0
    assert running.client_pids() == [client] and running.daemon_pids() == [daemon]


def test_status_texts_and_exit_codes(running):
    result = run(running.sysv_script, "status")
    assert (result.returncode, result.stdout) == (0, "Running\n")
    assert run(running.daemon_path, "--stop").returncode == 0
    assert run(running.sysv_script, "stop").returncode == 0
    result = run(running.sysv_script, "status")
    assert (result.returncode, result.stdout) == (1, "Stopped\n")
    assert run(running.sysv_script, "stop").returncode == 0  # already stopped
    result = run(running.sysv_script, "bogus")
    assert result.returncode == 2 and "Usage" in result.stderr


def test_watchdog_restarts_a_killed_client(running):
    [old] = running.kill_client()
    assert wait_until(lambda: running.client_pids() not in ([], [old]), timeout=1.0)


def test_init_stop_while_watchdog_runs_is_undone(running):
    [old] = running.client_pids()
    assert run(running.sysv_script, "stop").returncode == 0
    assert wait_until(lambda: running.client_pids() not in ([], [old]), timeout=1.0)
    assert len(running.client_pids()) == 1


def test_vendor_order_leaves_client_down(running):
    before = running.protected_snapshot()
    assert run(running.daemon_path, "--stop").returncode == 0
    assert running.daemon_pids() == []
    assert run(running.daemon_path, "--delete").returncode == 0
    assert not (running.dest / "etc/init.d/assist-daemon").exists()
    assert not list(running.dest.glob("etc/rc?.d/*assist-daemon"))
    assert running.daemon_dir.exists()  # --delete leaves the directory to the operator
    shutil.rmtree(running.daemon_dir)
    assert run(running.sysv_script, "stop").returncode == 0
    assert not wait_until(running.client_pids, timeout=1.0)
    assert running.protected_snapshot() == before


def test_daemon_stop_when_not_running(agent):
    assert run(agent.daemon_path, "--stop").returncode == 0


def test_fault_daemon_stop_fails(running):
    [daemon] = running.daemon_pids()
    running.set_fault("daemon-stop-fails")
    result = run(running.daemon_path, "--stop")
    assert result.returncode == 3 and result.stderr
    assert running.daemon_pids() == [daemon]
    running.clear_faults()
    assert run(running.daemon_path, "--stop").returncode == 0
    assert running.daemon_pids() == []


def test_fault_daemon_delete_fails(agent):
    agent.set_fault("daemon-delete-fails")
    files = sorted(str(p) for p in agent.dest.rglob("*") if "fake-assist" not in str(p))
    assert run(agent.daemon_path, "--delete").returncode == 4
    assert sorted(str(p) for p in agent.dest.rglob("*") if "fake-assist" not in str(p)) == files


def test_fault_client_stop_fails(running):
    [client] = running.client_pids()
    running.set_fault("client-stop-fails")
    result = run(running.sysv_script, "stop")
    assert result.returncode == 1 and result.stderr
    assert running.client_pids() == [client]


def test_fault_client_start_does_nothing(agent):
    agent.set_fault("client-start-does-nothing")
    assert run(agent.sysv_script, "start").returncode == 0
    assert agent.client_pids() == [] and run(agent.sysv_script, "status").returncode == 1


def test_remove_client_leaves_the_watchdog_alone(agent):
    agent.remove_client()
    agent.start_watchdog()
    assert agent.daemon_pids() and agent.client_pids() == []
    assert not agent.sysv_script.exists() and not (agent.dest / "usr/local/share/aliyun-assist").exists()
    assert sorted(p.name for p in (agent.dest / "etc/rc2.d").iterdir()) == ["S51assist-daemon"]
    assert agent.daemon_path.is_file()


def test_bare_is_a_system_with_its_init_and_nothing_of_the_agent(tmp_path):
    root = bare(tmp_path / "bare")
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == ["etc", "sbin", "sbin/init"]
    assert b"sysvinit" in (root / "sbin" / "init").read_bytes()


def test_fault_client_stop_hangs(running):
    running.set_fault("client-stop-hangs")
    stop = subprocess.Popen(
        [str(running.sysv_script), "stop"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    with pytest.raises(subprocess.TimeoutExpired):
        stop.wait(timeout=1.0)
    running.cleanup()
    assert stop.wait(timeout=5) == -signal.SIGKILL


def test_cleanup_leaves_no_processes_and_can_repeat(running):
    assert procs_referencing(running.dest)
    running.cleanup()
    assert procs_referencing(running.dest) == []
    assert running.client_pids() == [] and running.daemon_pids() == []
    running.cleanup()


def test_protected_snapshot_stable_across_stop_start(running):
    before = running.protected_snapshot()
    assert f"usr/local/share/aliyun-assist/{VERSION}/aliyun-service" in before
    assert before["etc/sysconfig/aliyun"][1] == 0o644
    assert run(running.daemon_path, "--stop").returncode == 0
    assert run(running.sysv_script, "stop").returncode == 0
    running.start()
    assert running.protected_snapshot() == before


def test_protected_snapshot_sees_a_change(agent):
    before = agent.protected_snapshot()
    (agent.dest / "usr/local/share/aliyun-assist/hybrid/instance-id").write_text("mi-other\n")
    assert agent.protected_snapshot() != before


def test_unknown_fault_is_refused(agent):
    with pytest.raises(ValueError):
        agent.set_fault("no-such-fault")


AGENT_SOURCES = Path(__file__).with_name("agent")


def test_agent_sources_and_installed_scripts_parse(agent):
    """The shell files in tests/support/agent lint as they are (`sh -n` and shellcheck,
    which `make test` installs); so do the init scripts install() writes from them."""
    shell = sorted([*AGENT_SOURCES.glob("*.init"), *AGENT_SOURCES.glob("*.sh")])
    installed = [agent.sysv_script, agent.dest / "etc/init.d/assist-daemon"]
    for script in shell + installed:
        result = run("sh", "-n", script)
        assert result.returncode == 0, (script, result.stderr)
    assert shutil.which("shellcheck"), "shellcheck is missing: sh tests/deps.sh unit installs it"
    result = run("shellcheck", "-x", *shell, *installed)
    assert result.returncode == 0, result.stdout
    for program in (agent.client_path, agent.daemon_path):
        compile(program.read_text(), str(program), "exec")
        assert program.read_text().startswith(f"#!{sys.executable}\n")


def test_values_with_quotes_and_spaces_are_safe(tmp_path):
    """Placeholders are filled with literals of each file's language (repr, shlex.quote)."""
    fake = install(tmp_path / 'it\'s a "root" $HOME')
    try:
        fake.start()
        assert len(fake.client_pids()) == 1 and len(fake.daemon_pids()) == 1
        [old] = fake.kill_client()
        assert wait_until(lambda: fake.client_pids() not in ([], [old]), timeout=1.0)
    finally:
        fake.cleanup()
