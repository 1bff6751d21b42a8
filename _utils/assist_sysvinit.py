"""
The sysvinit backend: the client's init script, and start at boot as its links in
``/etc/rc[0-6].d``.
"""

import os
import re

import salt.utils.path

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_backend, assist_files
    from saltext.assist.utils import assist_settings as settings
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path
    import assist_backend
    import assist_files
    import assist_settings as settings


class Sysvinit(assist_backend.LinuxBackend):
    """The init script; start at boot is its S links in /etc/rc[2-5].d, set with
    update-rc.d (Debian) or chkconfig (Red Hat) where the system has them."""

    name = "sysvinit"
    setting = "sysv_script"

    def service(self):
        return self.cfg["sysv_script"]

    def _script(self):
        return settings.host_path(self.cfg, self.cfg["sysv_script"])

    def check_ready(self):
        settings.may_run(self.cfg, self.cfg["sysv_script"], "asking or controlling the client")

    def registration(self):
        script = self._script()
        if not os.path.lexists(script):
            return None
        what = f"the init script {self.cfg['sysv_script']}"
        if not os.path.isfile(script):
            return {"what": what, "text": "", "problem": f"{what} is not a file ({self.key}): something else is in the way"}
        problem = None if os.access(script, os.X_OK) else f"{what} is not executable"
        return {"what": what, "text": self._read(script), "problem": problem}

    def registration_name(self):
        return f"the init script {self.cfg['sysv_script']}"

    def registry_dirs(self):
        return ["/etc/init.d"] + [f"/etc/rc{level}.d" for level in "0123456"]

    def command(self, verb):
        return [self._script(), verb]

    def activity(self):
        # LSB status codes: 0 running; 1, 2 dead with a pid or lock file left; 3 not running.
        ret = self.run(self.command("status"), "asking the init script", ok=(0, 1, 2, 3))
        return "running" if ret["retcode"] == 0 else "stopped"

    def _links(self):
        """The script's start (S) and kill (K) links, by runlevel."""
        name = os.path.basename(self.cfg["sysv_script"])
        links = {}
        for level in "0123456":
            directory = settings.host_path(self.cfg, f"/etc/rc{level}.d")
            try:
                entries = os.listdir(directory)
            except OSError:
                entries = []
            links[level] = [os.path.join(directory, e) for e in entries if re.match(r"^[SK]\d\d", e) and e[3:] == name]
        return links

    def enabled(self):
        links = self._links()
        return any(os.path.basename(link).startswith("S") for level in "2345" for link in links[level])

    def set_enabled(self, on):
        name = os.path.basename(self.cfg["sysv_script"])
        tool = self._boot_tool()
        if tool == "update-rc.d":
            if not any(self._links().values()):
                self.run(["update-rc.d", name, "defaults"], "registering the init script (update-rc.d defaults)")
            argv = ["update-rc.d", name, "enable" if on else "disable"]
        elif tool == "chkconfig":
            if not any(self._links().values()):
                self.run(["chkconfig", "--add", name], "registering the init script (chkconfig --add)")
            argv = ["chkconfig", name, "on" if on else "off"]
        else:
            self._set_links(on)
            return "the links in /etc/rc[0-6].d"
        self.run(argv, argv[0])
        return f"`{' '.join(argv)}`"

    def _boot_tool(self):
        """update-rc.d or chkconfig act on this host's /etc: used only on the host itself."""
        if self.cfg["root"] != "/":
            return None
        return next((tool for tool in ("update-rc.d", "chkconfig") if salt.utils.path.which(tool)), None)

    def _set_links(self, on):
        """Where neither tool exists (or in an image): as update-rc.d does, enabling
        makes S links in 2-5, disabling renames them to K. All links change, or none."""
        name = os.path.basename(self.cfg["sysv_script"])
        links = self._links()
        change = assist_files.FileChange(self.cfg, f"turning start at boot {'on' if on else 'off'}")
        for level in "0123456":
            directory = settings.host_path(self.cfg, f"/etc/rc{level}.d")
            target = os.path.relpath(self._script(), directory)
            if level in "016":  # halt, single user, reboot: always a K link
                if not links[level]:
                    change.symlink(target, os.path.join(directory, f"K02{name}"))
                continue
            wanted, unwanted = ("S", "K") if on else ("K", "S")
            for link in links[level]:
                base = os.path.basename(link)
                if base.startswith(unwanted):
                    change.rename(link, os.path.join(directory, wanted + base[1:]))
            if not links[level]:
                change.symlink(target, os.path.join(directory, f"{wanted}{'50' if on else '02'}{name}"))
        change.commit()
