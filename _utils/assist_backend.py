"""
What every init system's backend answers, and what the Linux backends share.

The verbs of the execution module ask a backend only these questions, so no verb
branches on the init system: can it act now, how the client is started, stopped or
restarted, what the client is doing, does it start at boot, and how to turn that on
or off. ``Backend`` holds the questions and the answers every system gives alike;
``LinuxBackend`` adds the client's files and processes and the init system's commands.
One file per init system holds its backend (``assist_systemd``, ``assist_upstart``,
``assist_sysvinit``, ``assist_windows``); ``assist_init`` detects which one applies.
"""

import dataclasses
import errno
import glob
import os
import re

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_files, assist_process
    from saltext.assist.utils import assist_settings as settings
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path
    import assist_files
    import assist_process
    import assist_settings as settings

VERB_ING = {"start": "starting", "stop": "stopping", "restart": "restarting", "enable": "enabling", "disable": "disabling"}


@dataclasses.dataclass(frozen=True)
class Installation:
    """Whether the agent is installed. ``installed``: its unit, job, script or service
    and the client program that names; ``registered``: the unit, job, script or service
    alone; ``incomplete``: what is there of an agent half installed, in words with its
    paths (no verb acts on it), else None; where a path came from a setting rather than
    its default, the words name the setting and say it may be wrong, and ``doubted`` is
    true. ``activity``: the init system's answer where it came with the same question
    (systemd), else None."""

    installed: bool
    registered: bool
    incomplete: str = None
    activity: str = None
    doubted: bool = False  # the incomplete words name a setting that may be wrong


class Backend:
    """The questions every init system answers, and the answers all give alike."""

    name = None
    setting = None  # the assist:lookup key that names the client's service (its unit, job or script)
    has_watchdog = False  # the watchdog exists on Linux only
    stop_warning = None
    # Whether stopping a client whose restart is pending turns start at boot off: Windows
    # cannot cancel a queued recovery restart, so its stop sets Disabled, which no start passes.
    pending_stop_turns_boot_off = False

    def __init__(self, cfg, funcs, context, evidence):
        self.cfg, self.funcs, self.context, self.evidence = cfg, funcs, context, evidence

    def service(self):
        """The client's name as this init system knows it."""
        raise NotImplementedError

    @property
    def key(self):
        """The setting that names the client's service, as messages name it."""
        return f"assist:lookup:{self.setting}"

    def service_evidence(self):
        """How the client's name was found, for status."""
        given = self.cfg[self.setting] != settings.DEFAULTS[self.setting]
        return f"{'set by' if given else 'the default of'} assist:lookup:{self.setting}"

    def check_ready(self):
        """Raise unless the init system can act now."""

    def registration(self):
        """The client's unit, job, script or service: {"what": it in words, with its path,
        "text": what it says (the program it runs is found in it), "problem": words
        when it is there but unusable, else None, "in_the_way": true where something
        else (a folder) stands at its path, and "activity" where the init system answered
        that too}; None when there is none."""
        raise NotImplementedError

    def registration_name(self):
        """The client's unit, job, script or service in words, for when it is missing."""
        raise NotImplementedError

    def missing(self):
        """What a minion without the agent lacks, in words."""
        raise NotImplementedError

    def registry_dirs(self):
        """The folders (the managed system's paths) where this init system keeps what
        starts at boot; removing the watchdog changes them too."""
        return []

    def client_programs(self):
        """The client programs on disk, where the client is a file of its own."""
        return []

    def program_named(self, text):
        """The client program a registration's text runs, where it names one."""
        return None

    def client_pids(self):
        """The client's live processes, where they can be told apart from others."""
        return []

    def installation(self, pids=()):
        """Whether the agent is installed (an ``Installation``). Installed: its
        registration and the client program that names. Not installed: neither, and no
        client process. Anything between is incomplete, said in words with its paths."""
        found = self.registration()
        problem, keys = None, (self.setting,)
        if found is None:
            keys = (self.setting, "client_dir")
            programs = self.client_programs()
            if programs:
                problem = f"the client {programs[-1]} is there, but {self.registration_name()} is missing ({self.key})"
            elif pids:
                problem = (
                    f"client process(es) {list(pids)} run, but neither the client program "
                    f"nor {self.registration_name()} is installed"
                )
        elif found["problem"]:
            problem = found["problem"]
        else:
            runs = self.program_named(found["text"])
            if runs is not None and not os.path.isfile(settings.host_path(self.cfg, runs)):
                problem = f"{found['what']} runs {runs}, which is missing"
        said = problem and settings.doubted(self.cfg, problem, *keys)
        return Installation(
            installed=found is not None and problem is None,
            registered=found is not None and not found.get("in_the_way"),
            incomplete=said,
            activity=(found or {}).get("activity"),
            doubted=said != problem,
        )

    def control(self, verb):
        """Start, stop or restart the client with the init system's own means; what did
        it, in words."""
        raise NotImplementedError

    def activity(self):
        """ "running", "stopped", or "restart pending": down, but the init system will
        start it by itself later (a restart delay under way)."""
        raise NotImplementedError

    def active(self):
        """Whether the init system says the client runs."""
        return self.activity() == "running"

    def enabled(self):
        raise NotImplementedError

    def set_enabled(self, on):
        """Turn start at boot on or off; what did it (a command, or files), in words."""
        raise NotImplementedError

    def allow_start(self, test):
        """Make the client startable where start at boot being off forbids a start (made
        only when not ``test``); the change, or None. Only Windows has such a setting."""
        return None

    def version(self):
        """The installed agent's version, or None."""
        return self.read_version(self.cfg)

    @staticmethod
    def read_version(cfg):
        """The installed agent's version from its files (no command runs: the grain asks
        it too), or None."""
        raise NotImplementedError


class LinuxBackend(Backend):
    """The Linux init systems: the client is a program under ``client_dir`` that the
    init system runs from its unit, job or script, its processes are read from /proc,
    the init system's own command controls it, and a watchdog may restart it."""

    has_watchdog = True

    def run(self, argv, step, ok=(0,)):
        return assist_process.run(self.funcs, self.cfg, argv, step, ok)

    def missing(self):
        words = f"{self.registration_name()} ({self.key}) and the client under {self.cfg['client_dir']} are missing"
        return settings.doubted(self.cfg, words, self.setting, "client_dir")

    def client_programs(self):
        """The client programs on disk (the managed system's paths), one per version folder."""
        base = settings.host_path(self.cfg, self.cfg["client_dir"])
        found = glob.glob(os.path.join(glob.escape(base), "*", "aliyun-service"))
        return sorted(settings.system_path(self.cfg, path) for path in found if os.path.isfile(path))

    def program_named(self, text):
        """The client program a unit, job or script runs (the managed system's path, as
        the vendor's name it: client_dir/<version>/aliyun-service), or None."""
        root = "" if self.cfg["root"] == "/" else re.escape(self.cfg["root"].rstrip("/"))
        client_dir = re.escape(self.cfg["client_dir"].rstrip("/"))
        found = re.search(rf"(?<![\w./-])(?:{root})?({client_dir}/[^/\s'\";]+/aliyun-service)(?![\w.-])", text)
        return found.group(1) if found else None

    def control(self, verb):
        argv = self.command(verb)
        self.run(argv, f"{VERB_ING[verb]} the client")
        return f"`{' '.join(argv)}`"

    def command(self, verb):
        """The init system's command line that starts, stops or restarts the client."""
        raise NotImplementedError

    def client_pids(self):
        prefix = settings.host_path(self.cfg, self.cfg["client_dir"]).rstrip("/") + "/"
        return assist_process.program_pids(lambda arg: arg.startswith(prefix) and arg.endswith("/aliyun-service"))

    @staticmethod
    def read_version(cfg):
        """The version file under ``client_dir``."""
        try:
            with open(settings.host_path(cfg, cfg["client_dir"] + "/version"), encoding="utf-8") as handle:
                return handle.readline().strip() or None
        except OSError:
            return None

    def _read(self, path, missing=""):
        """A file's text (``missing`` when there is none); a failure names the file."""
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return missing
        except (OSError, UnicodeDecodeError) as exc:
            if isinstance(exc, UnicodeDecodeError):
                exc = OSError(errno.EILSEQ, f"not text ({exc.reason})")
            path = settings.system_path(self.cfg, path)
            raise assist_files.os_error(f"reading the {self.name} files", "read", path, exc) from exc
