"""
The systemd backend: ``systemctl`` on the client's unit, found by its name or by what
its ExecStart runs.
"""

import logging
import os

import salt.utils.systemd
from salt.exceptions import CommandExecutionError

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_backend
    from saltext.assist.utils import assist_settings as settings
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path
    import assist_backend
    import assist_settings as settings

log = logging.getLogger(__name__)


def systemd_running(root, context=None):
    """systemd's own test (sd_booted, as Salt asks it), inside an image for a root."""
    if root == "/":
        return salt.utils.systemd.booted(context)
    return os.path.isdir(os.path.join(root, "run/systemd/system"))


class Systemd(assist_backend.LinuxBackend):
    """``systemctl`` on the client's unit. Its name is found, unless set: the vendor's
    installer calls it ``aliyun.service`` when its own systemd test passes, and
    ``aliyun-service.service`` (from a generic template) when that test fails, as on an
    image whose ``/bin/sh`` is dash and which lacks binutils (Debian, Ubuntu)."""

    name = "systemd"
    setting = "systemd_unit"
    # What one `systemctl show` asks: the client's state, and where its unit is and what it runs.
    PROPERTIES = "ActiveState,SubState,LoadState,FragmentPath,ExecStart"
    VENDOR_UNITS = ("aliyun.service", "aliyun-service.service")
    # Where systemd reads unit files, the first of a name shadowing the rest.
    UNIT_DIRS = (
        "/etc/systemd/system",
        "/run/systemd/system",
        "/usr/local/lib/systemd/system",
        "/lib/systemd/system",
        "/usr/lib/systemd/system",
    )

    def service(self):
        return self._unit()[0]

    def service_evidence(self):
        return self._unit()[1]

    def _unit(self):
        """(the client's unit, how it was found); found once per call of a verb."""
        if self.cfg["systemd_unit"] != "auto":
            return self.cfg["systemd_unit"], "set by assist:lookup:systemd_unit"
        if not hasattr(self, "_found_unit"):
            self._found_unit = self._find_unit()
            log.debug("assist: the client's systemd unit: %s (%s)", *self._found_unit)
        return self._found_unit

    def _find_unit(self):
        """The one unit that is the agent's: a vendor's name, or an ExecStart that runs the
        agent. Of several, those whose program is still there (an agent updated in place
        leaves the unit of a version whose folder is gone); more than one is an error."""
        files = self._unit_files()
        runs_agent = {name: path for name, path in files.items() if self._runs_agent(path) is not None}
        found = {name: files[name] for name in self.VENDOR_UNITS if name in files} | runs_agent
        if len(found) > 1:
            live = {name: path for name, path in found.items() if self._runs_agent(path) is not False}
            found = live or found
        if not found:
            looked = ", ".join(self.UNIT_DIRS)
            return self.VENDOR_UNITS[0], (
                f"no unit of the agent found (neither {' nor '.join(self.VENDOR_UNITS)}, nor one "
                f"whose ExecStart runs {self.cfg['client_dir']}/<version>/aliyun-service, in {looked})"
            )
        if len(found) > 1:
            named = ", ".join(f"{name} ({path})" for name, path in sorted(found.items()))
            raise CommandExecutionError(
                f"more than one systemd unit is the agent's: {named}; set "
                "assist:lookup:systemd_unit to the one in use; nothing was changed"
            )
        ((unit, path),) = found.items()
        why = "the vendor's name" if unit in self.VENDOR_UNITS else "its ExecStart runs the agent"
        return unit, f"found {path} ({why})"

    def _unit_files(self):
        """{unit name: the file systemd reads for it} of every *.service file."""
        files = {}
        for directory in self.UNIT_DIRS:
            try:
                names = sorted(os.listdir(settings.host_path(self.cfg, directory)))
            except OSError:  # not there (or not readable): systemd skips it too
                continue
            for name in names:
                if name.endswith(".service"):
                    files.setdefault(name, f"{directory}/{name}")
        return files

    def _runs_agent(self, unit_file):
        """Whether the unit's ExecStart runs the agent: True if its program is there,
        False if gone, None when it runs something else (or cannot be read)."""
        try:
            with open(settings.resolve(self.cfg["root"], unit_file), encoding="utf-8", errors="replace") as handle:
                text = handle.read(65536)
        except OSError:  # a dangling or masked link, or unreadable
            return None
        prefix = self.cfg["client_dir"].rstrip("/") + "/"
        for line in text.splitlines():
            key, _, value = line.partition("=")
            words = value.split()
            if key.strip() != "ExecStart" or not words:
                continue
            program = words[0].lstrip("-@:+!")  # systemd's prefixes before the path
            if program.startswith(prefix) and program.endswith("/aliyun-service"):
                return os.path.exists(settings.host_path(self.cfg, program))
        return None

    def check_ready(self):
        if not systemd_running(self.cfg["root"], self.context):
            raise CommandExecutionError(
                f"systemd is installed ({self.evidence}) but is not running as PID 1 "
                "(no /run/systemd/system), as in a container or chroot without its init; "
                "nothing was changed. Run this on the booted system, or set "
                "assist:lookup:init_system if the detection is wrong."
            )
        if self.cfg["root"] != "/":
            raise CommandExecutionError(
                "systemctl acts on this host's systemd, not on the system at "
                f"assist:lookup:root ({self.cfg['root']}); nothing was changed"
            )

    def registration(self):
        props = self._show()
        if props.get("LoadState") == "not-found":
            return None
        where = props.get("FragmentPath") or "no unit file"
        return {
            "what": f"the unit {self.service()} ({where})",
            "text": props.get("ExecStart", ""),
            "problem": None,
            "activity": self._activity(props),
        }

    def registration_name(self):
        if self.cfg["systemd_unit"] != "auto":
            return f"the unit {self.service()}"
        return f"the agent's unit ({' or '.join(self.VENDOR_UNITS)}, or one whose ExecStart runs the agent)"

    def registry_dirs(self):
        return [self.UNIT_DIRS[0]]  # /etc/systemd/system

    def command(self, verb):
        return ["systemctl", verb, self.service()]

    def _show(self):
        """systemd's properties of the client's unit (PROPERTIES)."""
        ret = self.run(
            ["systemctl", "show", self.service(), f"--property={self.PROPERTIES}"],
            "asking systemd for the client's state",
        )
        return dict(line.split("=", 1) for line in ret["stdout"].splitlines() if "=" in line)

    def activity(self):
        return self._activity(self._show())

    @staticmethod
    def _activity(props):
        # A unit waiting to restart (the vendor's: Restart=on-failure, RestartSec=120,
        # after a crash or a kill) is "activating", but no process runs until then.
        if props.get("SubState") == "auto-restart":
            return "restart pending"
        return "stopped" if props.get("ActiveState") in ("inactive", "failed", None) else "running"

    def enabled(self):
        ret = self.run(
            ["systemctl", "is-enabled", self.service()],
            "asking systemd whether the client starts at boot",
            ok=(0, 1),
        )
        return ret["stdout"].strip() in ("enabled", "enabled-runtime")

    def set_enabled(self, on):
        argv = ["systemctl", "enable" if on else "disable", self.service()]
        self.run(argv, f"systemctl {argv[1]}")
        return f"`{' '.join(argv)}`"
