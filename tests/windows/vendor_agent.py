"""The vendor's Cloud Assistant agent for Windows (tests/system/agent_build.py builds it
with GOOS=windows from the source the project keeps), installed in the Wine machine as
its package installs it on Windows.

    prepare(machine)            # Windows 10, the agent's server; then a reboot
    install(machine, exe)       # the program in its folder, its own --install and --start
    run_flag(machine, "--remove")

What the agent needs under Wine 8.0 (docs/windows.md, from a trial):
- Windows 10. On Windows 6.0 and 6.1 (Wine's default is Windows 7) the agent first
  loads the vendor's PatchGo.dll, which is not in its source, and exits.
- Its server, ALIYUN_ASSIST_SERVER_HOST, in the machine's environment (the Session
  Manager's), which services.exe reads at boot: 127.0.0.1 on the discard port. The
  machine's network namespace holds only loopback, and that is down: every attempt
  fails where it starts, and it stops asking the metadata address.
- The one test-only patch of the build (tests/system/aliyun-assist/
  wine-interactive-session.patch): without it the agent never tells Wine's service
  control manager it runs.
Updates are turned off as on Linux (config\\disable_update, disable_bootstrap_update).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.system.agent_build import WINDOWS_AGENT

RELEASE = WINDOWS_AGENT.release
SHARE = r"C:\ProgramData\aliyun\assist"  # the vendor's install folder on Windows
PROGRAM = rf"{SHARE}\{RELEASE}\{WINDOWS_AGENT.program}"
SERVER = "127.0.0.1:9"  # the discard port; and loopback is down in the namespace
# Wine's debug channels for the agent's own flags: its errors, and exceptions a program meets.
WINE_ERRORS = "err+all,warn+seh"
ENVIRONMENT_KEY = r"HKLM\System\CurrentControlSet\Control\Session Manager\Environment"


class InstallError(RuntimeError):
    """The vendor's installer refused; the message says what it said."""


def host_path(machine, windows_path: str) -> Path:
    """A path of drive C: as this host sees it."""
    drive, _, rest = windows_path.partition(":\\")
    assert drive.upper() == "C", windows_path
    return machine.drive_c().joinpath(*rest.split("\\"))


def prepare(machine) -> None:
    """Windows 10 and the agent's server in the booted machine, then a reboot: Wine's
    services.exe reads the environment when it starts."""
    machine.run(["winecfg", "/v", "win10"])
    machine.run(["reg", "add", ENVIRONMENT_KEY, "/v", "ALIYUN_ASSIST_SERVER_HOST", "/d", SERVER, "/f"])
    machine.reboot()


def install(machine, exe: Path) -> str:
    """The program in its release's folder (a copy: it writes log\\ beside itself),
    updates off, then its own --install and --start. What they said."""
    target = host_path(machine, PROGRAM)
    target.parent.mkdir(parents=True)
    shutil.copyfile(exe, target)
    config = host_path(machine, rf"{SHARE}\config")
    config.mkdir()
    for switch in ("disable_update", "disable_bootstrap_update"):
        (config / switch).write_text("")
    return run_flag(machine, "--install") + run_flag(machine, "--start")


def run_flag(machine, flag: str) -> str:
    """The agent's own --install, --start, --stop or --remove. It exits 0 even when it
    failed (it prints "... ok" or "... failed: ..." on stdout), so its words are read
    too. A failure before the flag is acted on (logrus Fatal: exit 1) is said only in
    its log; a crash only by Wine. Both go into the error: the log's last records, and
    Wine's errors and exceptions (a CI run once saw --remove exit 1 printing nothing)."""
    done = machine.run([PROGRAM, flag], check=False, debug=WINE_ERRORS)
    said = done.stdout.strip()
    if done.returncode != 0 or not said.endswith(" ok"):
        raise InstallError(
            f"`aliyun_assist_service.exe {flag}` exited {done.returncode}: {said or '(nothing on stdout)'}\n"
            f"stderr, with Wine's {WINE_ERRORS}:\n{done.stderr.strip()[-3000:] or '(nothing)'}\n"
            f"its log:\n{last_log_records(machine)}"
        )
    return said + "\n"


def last_log_records(machine, count: int = 5) -> str:
    """The agent's main log (log\\aliyun_assist_main.log.<date> beside the program; the
    exact name is a link Wine's file system cannot make): its last fatal records, else
    its last records. The running service writes there too, so a fatal record of the
    failed run may be followed by many of the service's."""
    logs = sorted(host_path(machine, PROGRAM).parent.glob("log/aliyun_assist_main.log.*"))
    if not logs:
        return "(no log)"
    records = logs[-1].read_text(errors="replace").splitlines()
    fatal = [record for record in records if "level=fatal" in record]
    return "\n".join((fatal or records)[-count:])


def processes(machine) -> list[int]:
    """The agent's processes in the machine's namespace, by their command line (Wine
    shows a Windows program's path as its argv[0]), as this host's /proc has them."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv0 = Path(entry.path, "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            inside = os.readlink(f"{entry.path}/ns/pid") == os.readlink(f"/proc/{machine.namespace_pid}/ns/pid")
        except OSError:
            continue
        if inside and argv0.lower() == PROGRAM.lower():
            found.append(int(entry.name))
    return sorted(found)
