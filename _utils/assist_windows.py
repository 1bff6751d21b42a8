"""
The Windows backend: Salt's own service module (``win_service``) on the client's
service, ``AliyunService``.
"""

import os
import re

from salt.exceptions import CommandExecutionError

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_backend
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path
    import assist_backend


class Windows(assist_backend.Backend):
    """Salt's own service module (``win_service``) drives the Windows service manager.

    Start at boot is the service's start type: on is Automatic, off is Manual. Not
    Disabled: nothing can start a Disabled service, the vendor's own tools included, and
    the vendor warns that an instance whose AliyunService is stopped may no longer be
    stoppable from the ECS console; Manual keeps the way back open. A service found
    Disabled (set by hand or by another tool) counts as off too, and a start must leave
    Disabled first (Salt's ``service.start`` would switch it to Manual silently): the
    start does it itself and reports it in its changes.

    Recovery actions (the vendor's --install: restart after 3 minutes twice, then after
    3 hours): after a crash the service reads Stopped, and the service control manager
    starts it again later. That is "restart pending" (RESTART_DUE), and a stop of it
    sets Disabled: Windows has no call that cancels a queued recovery action, and it
    starts no Disabled service, its own recovery included (docs/windows.md).
    """

    name = "windows"
    pending_stop_turns_boot_off = True
    setting = "windows_service"
    has_watchdog = False
    stop_warning = (
        "AliyunService is the Cloud Assistant client. With it stopped the instance may "
        "misbehave and may no longer be stoppable from the ECS console."
    )
    # Salt's service.status answers this string, which is true, for a missing service
    # (Salt 3006 and later).
    NOT_FOUND = "Not Found"
    # The service's exit code after its process ended without reporting Stopped: a crash,
    # which Windows counts as a failure and answers with the next recovery action.
    ERROR_PROCESS_ABORTED = 1067
    SC_ACTIONS = {0: "none", 1: "restart", 2: "reboot", 3: "run command"}

    def service(self):
        return self.cfg["windows_service"]

    def registration(self):
        if not self.funcs["service.available"](self.service()):
            return None
        return {"what": f"the Windows service {self.service()}", "text": "", "problem": None}

    def registration_name(self):
        return f"the Windows service {self.service()}"

    def missing(self):
        return (
            f"{self.registration_name()} does not exist ({self.key}); if the agent's service "
            "has another name, set assist:lookup:windows_service to it (the vendor's is AliyunService)"
        )

    def _missing(self):
        """The service gone between two questions (deleted meanwhile)."""
        return CommandExecutionError(f"{self.missing()}. Nothing was changed.")

    def _service(self, verb):
        if not self.funcs[f"service.{verb}"](self.service()):
            step = assist_backend.VERB_ING[verb]
            raise CommandExecutionError(f"{step} {self.service()} failed: Salt's service.{verb} returned False")
        return f"Salt's service.{verb} {self.service()}"

    def control(self, verb):
        if verb == "stop" and self.activity() == "restart pending":
            return self._hold_down()
        return self._service(verb)

    def _hold_down(self):
        """Keep a crashed service down: Disabled, which no start passes."""
        self._service("disable")
        return f"Salt's service.disable {self.service()} (a recovery restart was due; Windows starts no Disabled service)"

    def activity(self):
        found = self.funcs["service.status"](self.service())
        if found == self.NOT_FOUND:
            raise self._missing()
        if found is True:
            return "running"
        return "restart pending" if self._restart_due() else "stopped"

    def _restart_due(self):
        """Stopped by a crash, not Disabled, and a recovery action restarts it. Windows
        tells neither the failure count nor when: any restart among the actions counts."""
        info = self.funcs["service.info"](self.service())
        if info.get("Status_ExitCode") != self.ERROR_PROCESS_ABORTED or info.get("StartType") == "Disabled":
            return False
        return any(action["action"] == "restart" for action in self.recovery().get("actions", []))

    def recovery(self):
        """The service's recovery actions as the service control manager holds them
        (pywin32's QueryServiceConfig2, SERVICE_CONFIG_FAILURE_ACTIONS): {"actions":
        [{"action": "restart", "delay_seconds": 180}, ...], "reset_seconds": 86400};
        {"unknown": why} where the manager does not say (Wine 8.0: invalid level)."""
        import pywintypes  # pylint: disable=import-outside-toplevel  (Windows only)
        import win32service  # pylint: disable=import-outside-toplevel

        try:
            manager = win32service.OpenSCManager(None, None, win32service.SC_MANAGER_CONNECT)
            try:
                handle = win32service.OpenService(manager, self.service(), win32service.SERVICE_QUERY_CONFIG)
                try:
                    found = win32service.QueryServiceConfig2(handle, win32service.SERVICE_CONFIG_FAILURE_ACTIONS)
                finally:
                    win32service.CloseServiceHandle(handle)
            finally:
                win32service.CloseServiceHandle(manager)
        except pywintypes.error as exc:
            return {"unknown": f"the service manager did not say: {exc.funcname}: {exc.strerror} (error {exc.winerror})"}
        actions = [
            {"action": self.SC_ACTIONS.get(kind, str(kind)), "delay_seconds": delay // 1000}
            for kind, delay in found["Actions"] or ()
        ]
        return {"actions": actions, "reset_seconds": found["ResetPeriod"]}

    def enabled(self):
        """Automatic (delayed or not); Manual and Disabled are off."""
        return bool(self.funcs["service.enabled"](self.service()))

    def set_enabled(self, on):
        # Salt's service.enable sets any start type; its service.disable sets Disabled.
        start_type = "auto" if on else "manual"
        if not self.funcs["service.enable"](self.service(), start_type=start_type):
            raise CommandExecutionError(
                f"setting {self.service()} to start type {start_type} failed: Salt's "
                f"service.enable start_type={start_type} returned False"
            )
        return f"Salt's service.enable {self.service()} start_type={start_type}"

    def allow_start(self, test):
        """A Disabled service becomes Manual, which Windows will start (start at boot
        stays off); the change, or None."""
        if self.funcs["service.info"](self.service())["StartType"] != "Disabled":
            return None
        if not test:
            self.funcs["service.modify"](self.service(), start_type="manual")
        return {"old": "disabled", "new": "manual"}

    @staticmethod
    def read_version(cfg):
        """The newest version folder under %ProgramData%\\aliyun\\assist."""
        base = os.path.join(os.environ.get("ProgramData", r"C:\ProgramData"), "aliyun", "assist")
        try:
            found = [d for d in os.listdir(base) if re.match(r"^\d+(\.\d+)+$", d)]
        except OSError:
            return None
        return max(found, key=lambda v: [int(p) for p in v.split(".")], default=None)
