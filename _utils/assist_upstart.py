"""
The UpStart backend: ``initctl`` and the client's job files in ``/etc/init``; start at
boot as ``manual`` in the job's override (1.3 and later) or its ``start on`` stanza
(older releases).
"""

import os
import re

from salt.exceptions import CommandExecutionError

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_backend, assist_files
    from saltext.assist.utils import assist_settings as settings
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path
    import assist_backend
    import assist_files
    import assist_settings as settings


def upstart_version(funcs, cfg, context):
    """UpStart's version from ``initctl --version`` as a tuple, or None where no UpStart
    answers (no initctl, not allowed to run the image's, or another init). Asked once
    per job: detection and the backend share the answer through ``context``."""
    key = ("assist.upstart_version", cfg["root"])
    if key not in context:
        context[key] = _ask_upstart_version(funcs, cfg)
    return context[key]


def _ask_upstart_version(funcs, cfg):
    initctl = settings.host_path(cfg, "/sbin/initctl")
    if not os.access(initctl, os.X_OK) or (cfg["root"] != "/" and not cfg["run_image_programs"]):
        return None
    ret = funcs["cmd.run_all"](
        [initctl, "--version"],
        python_shell=False,
        ignore_retcode=True,
        timeout=cfg["timeout"],
        output_loglevel="quiet",
    )
    found = re.search(r"upstart (\d+(?:\.\d+)*)", ret["stdout"]) if ret["retcode"] == 0 else None
    return tuple(int(part) for part in found.group(1).split(".")) if found else None


class Upstart(assist_backend.LinuxBackend):
    """``initctl`` and the job's files in /etc/init. Start at boot: UpStart 1.3 and later
    read ``manual`` from the job's ``.override``; older releases (0.6.5, RHEL/CentOS 6)
    know no override file, so there the job's ``start on`` stanza is commented out with
    a marker, and restored byte for byte."""

    name = "upstart"
    setting = "upstart_job"
    MARKER = "#assist-salt-off# "
    OVERRIDES_SINCE = (1, 3)

    def service(self):
        return self.cfg["upstart_job"]

    def _initctl(self):
        return settings.host_path(self.cfg, "/sbin/initctl")

    def _job_file(self, suffix):
        return settings.host_path(self.cfg, f"/etc/init/{self.cfg['upstart_job']}.{suffix}")

    def check_ready(self):
        if not os.access(self._initctl(), os.X_OK):
            raise CommandExecutionError("UpStart was detected but /sbin/initctl is missing; nothing was changed")
        settings.may_run(self.cfg, "/sbin/initctl", "asking or controlling the client")

    def registration(self):
        conf = self._job_file("conf")
        if not os.path.lexists(conf):
            return None
        what = f"the job {settings.system_path(self.cfg, conf)}"
        if not os.path.isfile(conf):
            return {"what": what, "text": "", "problem": f"{what} is not a file ({self.key}): something else is in the way"}
        return {"what": what, "text": self._read(conf), "problem": None}

    def registration_name(self):
        return f"the job /etc/init/{self.cfg['upstart_job']}.conf"

    def registry_dirs(self):
        return ["/etc/init"]

    def command(self, verb):
        return [self._initctl(), verb, self.cfg["upstart_job"]]

    def activity(self):
        ret = self.run(self.command("status"), "asking UpStart for the client's state")
        return "running" if "start/" in ret["stdout"] else "stopped"

    def _overrides(self):
        """Whether this UpStart reads .override files (1.3 and later)."""
        found = upstart_version(self.funcs, self.cfg, self.context)
        return found is None or found >= self.OVERRIDES_SINCE

    def enabled(self):
        conf = self._read(self._job_file("conf"))
        if self._overrides():
            manual = "manual" in _lines(conf) or "manual" in _lines(self._read(self._job_file("override")))
            return not manual and _start_on(conf) is not None
        return _start_on(conf) is not None

    def set_enabled(self, on):
        step = f"turning start at boot {'on' if on else 'off'}"
        if self._overrides():
            self._set_manual(not on, assist_files.FileChange(self.cfg, step))
            return f"`manual` in /etc/init/{self.cfg['upstart_job']}.override"
        self._set_start_on(on, assist_files.FileChange(self.cfg, step))
        return f"the `start on` stanza of /etc/init/{self.cfg['upstart_job']}.conf"

    def _set_manual(self, manual, change):
        override = self._job_file("override")
        kept = [line for line in self._read(override).splitlines(keepends=True) if line.strip() != "manual"]
        if manual:
            kept.append("manual\n")
        else:  # a `manual` the vendor's .conf carries is honoured too: take it out
            conf = self._job_file("conf")
            text = self._read(conf)
            if "manual" in _lines(text):
                change.write(conf, "".join(line for line in text.splitlines(keepends=True) if line.strip() != "manual"))
        if kept:
            change.write(override, "".join(kept))
        elif os.path.lexists(override):
            change.remove(override)
        change.commit()

    def _set_start_on(self, on, change):
        conf = self._job_file("conf")
        text = self._read(conf)
        lines = text.splitlines(keepends=True)
        marked = [i for i, line in enumerate(lines) if line.startswith(self.MARKER)]
        live = _start_on(text)
        if on:
            if not marked:
                raise self._not_understood(conf, "no `start on` stanza that assist-salt turned off")
            lines = [line[len(self.MARKER) :] if i in marked else line for i, line in enumerate(lines)]
        else:
            if live is None or marked:
                why = "no `start on` stanza to turn off" if live is None else "`start on` both on and off"
                raise self._not_understood(conf, why)
            first, last = live
            lines = [self.MARKER + line if first <= i <= last else line for i, line in enumerate(lines)]
        change.write(conf, "".join(lines))
        change.commit()

    def _not_understood(self, path, why):
        return CommandExecutionError(
            f"cannot change start at boot in {settings.system_path(self.cfg, path)}: {why}; this UpStart (before 1.3) has no "
            "override files, so start at boot lives in that file's `start on` stanza. "
            "Nothing was changed."
        )


def _lines(text):
    return [line.strip() for line in text.splitlines()]


def _start_on(text):
    """The first and last line index of the live ``start on`` stanza, or None. The
    stanza goes on while its parentheses are open or a line ends in a backslash."""
    lines = text.splitlines()
    for first, line in enumerate(lines):
        if re.match(r"^\s*start\s+on\b", line):
            depth, last = 0, first
            for last in range(first, len(lines)):
                depth += lines[last].count("(") - lines[last].count(")")
                if depth <= 0 and not lines[last].rstrip().endswith("\\"):
                    break
            return first, last
    return None
