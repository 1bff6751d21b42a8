"""The windows tier's machine: a Wine prefix of the session's own (a copy of the cached
one, machine.py), its wineserver running in a network namespace with only loopback
(wine.py), the project's wheel installed by the Windows Python's pip, and the vendor's
own Windows agent (vendor_agent.py: built from the source the project keeps, installed
by its own --install) as the service AliyunService of Wine's service control manager.

Salt finds the project through the wheel's `salt.loader` entry point: the minion's
file_roots hold only the state tree (salt/), pillar_roots the repository's pillar/,
and no extension folder is named anywhere.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.support.wheel import build_wheel
from tests.system.agent_build import WINDOWS_AGENT, build_agent
from tests.windows import vendor_agent
from tests.windows.machine import cached_prefix, copy_prefix
from tests.windows.wine import Machine, SaltCalls

GUEST = Path(__file__).resolve().parent / "guest"
SERVICE = "AliyunService"
SERVICE_KEY = rf"HKLM\System\CurrentControlSet\Services\{SERVICE}"
TEST_DIR = r"C:\assist-test"  # the guest programs, the minion's configs and files
START_TYPES = {2: "auto", 3: "manual", 4: "disabled"}  # the service's Start value


class Windows:
    """The machine, Salt on it, and the service manager's own view of AliyunService."""

    def __init__(self, machine: Machine):
        self.machine = machine
        self.calls = None

    # ------------------------------------------------------------------ salt-call

    def salt(self, *args, config="minion") -> dict:
        """salt-call --local ARGS on the long-lived Windows Python; config names the
        minion config folder (see minion_configs). {"code", "stdout", "stderr"}."""
        if self.calls is None:
            self.calls = SaltCalls(self.machine, rf"{TEST_DIR}\salt_call_server.py")
        return self.calls(*self._argv(config, args))

    def salt_fresh(self, *args, config="minion") -> dict:
        """The same, in a Windows Python of its own (the launchers in Scripts\\ do not run
        under Wine: python -c with salt.scripts.salt_call is what salt-call.exe does)."""
        done = self.machine.run(
            [r"C:\Python311\python.exe", rf"{TEST_DIR}\salt_call_fresh.py", *self._argv(config, args)],
            check=False,
            timeout=300,
        )
        return {"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}

    def salt_json(self, *args, config="minion"):
        """The return of a salt-call that must succeed."""
        done = self.salt(*args, config=config)
        assert done["code"] == 0, done
        return json.loads(done["stdout"])["local"]

    @staticmethod
    def _argv(config, args):
        return [
            "--local",
            "--config-dir",
            rf"{TEST_DIR}\{config}",
            "--log-level",
            "quiet",
            "--out",
            "json",
            "--retcode-passthrough",
            *args,
        ]

    # ------------------------------------------------------- the service manager's view

    def state(self, name=SERVICE):
        """`sc query NAME`: RUNNING, STOPPED, ...; None when no such service exists."""
        done = self.machine.run(["sc", "query", name], check=False)
        if done.returncode != 0 and not done.stdout.strip():
            return None
        found = re.search(r"STATE\s*:\s*\d+\s+(\w+)", done.stdout)
        assert found, done
        return found.group(1)

    def start_type(self):
        """The service's Start value in the registry: auto, manual or disabled."""
        done = self.machine.run(["reg", "query", SERVICE_KEY, "/v", "Start"])
        return START_TYPES[int(re.search(r"Start\s+REG_DWORD\s+0x([0-9a-f]+)", done.stdout).group(1), 16)]

    def agent_processes(self) -> list[int]:
        """The agent's processes, as this host sees them (vendor_agent.processes)."""
        return vendor_agent.processes(self.machine)

    # --------------------------------------------------------------- arranging a case

    def arrange(self, state, start_type):
        """Put AliyunService into a state (RUNNING or STOPPED) and a start type, with
        Wine's sc.exe and Salt's own service module, and check both."""
        if self.start_type() != start_type:
            self.salt_json("service.modify", SERVICE, f"start_type={start_type}")
        if self.state() != state:
            self.machine.run(["sc", "start" if state == "RUNNING" else "stop", SERVICE])
        self.wait_for(state)
        assert self.start_type() == start_type

    def wait_for(self, state, seconds=15):
        deadline = time.monotonic() + seconds
        while (found := self.state()) != state:
            assert time.monotonic() < deadline, f"{SERVICE} is {found}, not {state}, after {seconds} s"
            time.sleep(0.2)

    def reboot(self):
        """wineserver -k and a new boot: every process ends, auto-start services start."""
        if self.calls is not None:
            self.calls.close()
            self.calls = None
        self.machine.reboot()


def minion_configs(machine: Machine) -> dict:
    """Two minion configs: `minion` (the frozen group, by the grain pillar/top.sls
    matches) and `missing` (assist:lookup:windows_service naming no service)."""
    base = {
        "id": "wine-minion",
        "file_client": "local",
        "root_dir": rf"{TEST_DIR}\root",
        "file_roots": {"base": [machine.windows_path(REPO / "salt")]},
        "pillar_roots": {"base": [machine.windows_path(REPO / "pillar")]},
        "grains": {"assist_policy": "frozen"},
    }
    return {
        "minion": base,
        "missing": dict(base, assist={"lookup": {"windows_service": "NoSuchService"}}),
    }


@pytest.fixture(scope="session")
def windows(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("windows")
    wheel = build_wheel(scratch)
    agent = build_agent(recipe=WINDOWS_AGENT)
    machine = Machine(copy_prefix(cached_prefix(), scratch / "prefix"))
    windows = Windows(machine)
    try:
        machine.boot()
        vendor_agent.prepare(machine)
        test_dir = machine.drive_c() / "assist-test"
        shutil.copytree(GUEST, test_dir, ignore=shutil.ignore_patterns("__pycache__"))
        for name, config in minion_configs(machine).items():
            (test_dir / name).mkdir()
            (test_dir / name / "minion").write_text(yaml.safe_dump(config))
        (test_dir / "root" / "var" / "log" / "salt").mkdir(parents=True)
        machine.python(
            "-m", "pip", "install", "--disable-pip-version-check", "--no-index", "--no-deps", machine.windows_path(wheel)
        )
        vendor_agent.install(machine, agent)
        yield windows
    finally:
        if windows.calls is not None:
            windows.calls.close()
        machine.shutdown()
        machine.close()
        shutil.rmtree(machine.prefix, ignore_errors=True)  # 0.9 GB; pytest keeps its last three runs
