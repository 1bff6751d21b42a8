"""
Init-system detection and one backend per init system.

Every backend answers the same few questions: can it act now, how the client is
started, stopped or restarted, is the client active, does it start at boot, and how to
turn that on or off. The verbs of the execution module ask only these questions, so no
verb branches on the init system; adding one means adding a class here.

Commands run as argument lists through Salt's ``cmd.run_all`` with a timeout; a failure
raises ``CommandExecutionError`` naming the step, the command, its exit code and output.
"""

import errno
import functools
import glob
import logging
import os
import re

import salt.utils.path
import salt.utils.platform
import salt.utils.systemd
from salt.exceptions import CommandExecutionError

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_settings as settings
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path
    import assist_settings as settings

log = logging.getLogger(__name__)

VERB_ING = {"start": "starting", "stop": "stopping", "restart": "restarting", "enable": "enabling", "disable": "disabling"}

# The vendor's test: `strings /sbin/init | grep ...`, in this order.
INIT_MARKERS = ((b"/lib/system", "systemd"), (b"upstart", "upstart"), (b"sysvinit", "sysvinit"))


def run(funcs, cfg, argv, step, ok=(0,)):
    """Run one command as an argument list; a failure names the step and the command."""
    log.debug("assist: %s: %s", step, " ".join(argv))
    try:
        ret = funcs["cmd.run_all"](
            argv,
            python_shell=False,
            timeout=cfg["timeout"],
            ignore_retcode=True,
            output_loglevel="debug",
            env={"LC_ALL": "C"},
        )
    except CommandExecutionError as exc:  # Salt could not start the program at all
        raise CommandExecutionError(f"{step} failed: `{' '.join(argv)}` could not run: {exc}") from exc
    if ret["retcode"] not in ok:
        said = (ret.get("stderr") or ret.get("stdout") or "no output").strip()
        raise CommandExecutionError(f"{step} failed: `{' '.join(argv)}` exited {ret['retcode']}: {said}")
    return ret


def program_pids(path):
    """Live pids of this system whose program (argv[0], or argv[1] after an interpreter)
    is ``path``, or, when ``path`` is a callable, whose program it accepts. Zombies are
    not alive, and a process of a container or chroot (another root directory) is not
    this system's, even where its program has the same path.

    Read from /proc directly: psutil would do, but salt-ssh's thin archive does not
    carry it, and the module must load agentless too."""
    match = path if callable(path) else path.__eq__
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")[:2]
        except OSError:  # gone meanwhile
            continue
        # A zombie's cmdline reads empty; one that died since is caught by _alive.
        if any(match(arg.decode("utf-8", "replace")) for arg in argv) and _alive(entry) and _same_root(entry):
            found.append(int(entry))
    return sorted(found)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # gone meanwhile
        return False


def _same_root(pid):
    try:
        return os.readlink(f"/proc/{pid}/root") == os.readlink("/proc/self/root")
    except PermissionError:  # a minion that is not root cannot tell: count it
        return True
    except OSError:  # gone meanwhile
        return False


# --------------------------------------------------------------------------- detection


def resolve(root, path):
    """Where ``path`` of the system mounted at ``root`` lies on this host. Symbolic links
    are followed one component at a time, so an absolute link never leads out of root."""
    if root == "/":  # the host's own system: the kernel follows the links
        return "/" + path.lstrip("/")  # relative to the root, as the walk below takes it
    pending = [part for part in reversed(path.split("/")) if part]  # a stack: next part last
    done = ""
    hops = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            done = done.rpartition("/")[0]
            continue
        try:
            target = os.readlink(f"{root}{done}/{part}")
        except OSError:  # not a link (or not there): taken as it is
            done = f"{done}/{part}"
            continue
        hops += 1
        if hops > 40:
            raise OSError(f"too many symbolic links resolving {path}")
        if target.startswith("/"):
            done = ""
        pending.extend(part for part in reversed(target.split("/")) if part)
    return f"{root}{done}"


def systemd_running(root, context=None):
    """systemd's own test (sd_booted, as Salt asks it), inside an image for a root."""
    if root == "/":
        return salt.utils.systemd.booted(context)
    return os.path.isdir(os.path.join(root, "run/systemd/system"))


def init_marker(root, init_path):
    """The vendor's test on the bytes of init_path: (system, evidence), or None when no
    marker is there. Raises OSError when the file cannot be read."""
    fd = os.open(resolve(root, init_path), os.O_RDONLY)
    try:  # one read(2) returns a regular file whole; half the cost of a file object's
        content = os.read(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    for marker, system in INIT_MARKERS:
        if marker in content:
            return system, f"{init_path} contains {marker.decode()!r}"
    return None


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


def detect(cfg, funcs=None, context=None):
    """Which init system manages the agent, and the evidence that decided it. Without
    ``funcs`` (Salt's execution functions) no command runs (the grain): UpStart is then known by its marker only."""
    context = {} if context is None else context
    if salt.utils.platform.is_windows():
        return {"system": "windows", "evidence": "the minion runs on Windows"}
    if cfg["init_system"] != "auto":
        return {"system": cfg["init_system"], "evidence": "set by assist:lookup:init_system"}
    if systemd_running(cfg["root"], context):
        return {"system": "systemd", "evidence": "/run/systemd/system exists (systemd runs)"}
    if funcs is not None and upstart_version(funcs, cfg, context):
        return {"system": "upstart", "evidence": "initctl --version names upstart"}
    try:
        found = init_marker(cfg["root"], cfg["init_path"])
    except OSError as exc:
        raise CommandExecutionError(
            f"detecting the init system failed: cannot read {cfg['init_path']} "
            f"({exc.strerror or exc}); set assist:lookup:init_system to systemd, upstart "
            "or sysvinit"
        ) from exc
    if found is None:
        raise CommandExecutionError(
            f"detecting the init system failed: {cfg['init_path']} contains none of "
            "'/lib/system', 'upstart', 'sysvinit'; set assist:lookup:init_system "
            "to systemd, upstart or sysvinit"
        )
    return {"system": found[0], "evidence": found[1]}


def backend(cfg, funcs, context):
    """The backend of the detected init system; detection is cached in ``context``."""
    key = (cfg["root"], cfg["init_path"], cfg["init_system"])
    cached = context.get("assist.init_system")
    if not cached or cached[0] != key:
        cached = context["assist.init_system"] = (key, detect(cfg, funcs, context))
    found = cached[1]
    return BACKENDS[found["system"]](cfg, funcs, context, found["evidence"])


# --------------------------------------------------------------------------- file and process failures

# What to do about a file or process operation the system refused, by its errno.
ADVICE = {
    errno.EROFS: "its file system is mounted read-only; remount it read-write and run again",
    errno.ENOSPC: "the file system is full; free space on it and run again",
    errno.EDQUOT: "the disk quota is used up; free space and run again",
    errno.EACCES: "the minion may not change it; run the minion as root, or correct the permissions",
    errno.EPERM: (
        "the system does not allow it (an immutable file, a security policy, another user's process); lift that and run again"
    ),
    errno.EEXIST: "something else is in the way at that path; move it away and run again",
    errno.ENOTDIR: "a file is in the way where a folder belongs; move it away and run again",
    errno.EISDIR: "a folder is in the way where a file belongs; move it away and run again",
}


def os_error(step, action, path, exc, state=""):
    """A file or process operation the system refused, in words: the step, what was
    done to which path, the system's words, what to do, and (when given) what the system
    is left with."""
    advice = ADVICE.get(exc.errno, "correct that and run again")
    message = f"{step} failed: cannot {action} {path}: {exc.strerror or exc}; {advice}."
    return CommandExecutionError(f"{message} {state}".strip())


def unwritable(path):
    """The errno that keeps the folder ``path`` (or, where it is missing, the nearest
    folder above it) from being changed: EROFS, EACCES; None when it can be."""
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    if os.statvfs(path).f_flag & os.ST_RDONLY:
        return errno.EROFS
    return None if os.access(path, os.W_OK) else errno.EACCES


def check_writable(cfg, folders, step, why, state):
    """Refuse, before anything changes, when one of the folders (the managed system's
    paths) cannot be changed; ``why`` says what needs it."""
    for folder in folders:
        code = unwritable(settings.host_path(cfg, folder))
        if code:
            raise os_error(step, "change", f"{folder} ({why})", OSError(code, os.strerror(code)), state)


def _discard(path):
    """Remove a file, link or empty folder this module made; False if it could not be."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


class FileChange:
    """A change of files made whole or not at all (start at boot as rc links or UpStart
    job files). What needs room on the disk (new text, a new link, a folder, a second
    name keeping the old file) is made first, beside its place, where a read-only or a
    full file system refuses it before anything changed. Then each piece is renamed
    into place, which needs no room; a failure there renames back what was done."""

    def __init__(self, cfg, step):
        self.cfg, self.step = cfg, step
        self.made = []  # what the first phase made: removed again when the change fails
        self.moves = []  # (source, destination, undo) renames of the second phase
        self.kept = []  # old files under a second name: deleted once the change is whole

    def _beside(self, path, what):
        head, name = os.path.split(path)
        return os.path.join(head, f".{name}.assist-salt-{what}")

    def _make(self, action, path, made, operation):
        """Run one operation of the first phase; ``made`` is what it made, taken back if
        the change fails later (never what stood there before: a failed operation made
        nothing, but a file written in part)."""
        try:
            operation()
        except OSError as exc:
            raise self._fail(action, path, exc) from exc
        if made is not None:
            self.made.append(made)

    def _fail(self, action, path, exc):
        left = [settings.system_path(self.cfg, p) for p in reversed(self.made) if not _discard(p)]
        state = f"Left behind, to be deleted by hand: {', '.join(left)}." if left else ""
        return os_error(self.step, action, settings.system_path(self.cfg, path), exc, state)

    def folder(self, path):
        if not os.path.isdir(path):
            self._make("make the folder", path, path, lambda: os.mkdir(path))

    def write(self, path, text):
        # Not salt.utils.atomicfile.atomic_open: it renames each file as it closes, and
        # here every file of the change is staged first and renamed in the second phase.
        # Like it, the new text keeps the old file's mode and owner.
        new = self._beside(path, "new")

        def stage():
            with open(new, "w", encoding="utf-8") as handle:
                self.made.append(new)  # written in part when the disk fills: taken back too
                handle.write(text)
            if os.path.exists(path):
                old = os.stat(path)
                os.chmod(new, old.st_mode & 0o7777)
                os.chown(new, old.st_uid, old.st_gid)

        self._make("write", path, None, stage)
        undo = functools.partial(os.unlink, path)
        if os.path.lexists(path):  # a second name keeps the old text until the change is whole
            old = self._beside(path, "old")
            _discard(old)  # from a change cut short
            self._make("keep the old text of", path, old, functools.partial(os.link, path, old))
            self.kept.append(old)
            undo = functools.partial(os.rename, old, path)
        self.moves.append((new, path, undo))

    def symlink(self, target, path):
        self.folder(os.path.dirname(path))
        new = self._beside(path, "new")
        _discard(new)
        self._make("make the link", path, new, functools.partial(os.symlink, target, new))
        self.moves.append((new, path, functools.partial(os.unlink, path)))

    def rename(self, source, destination):
        self.moves.append((source, destination, functools.partial(os.rename, destination, source)))

    def remove(self, path):
        old = self._beside(path, "old")
        self.moves.append((path, old, functools.partial(os.rename, old, path)))
        self.kept.append(old)

    def commit(self):
        done = []
        for source, destination, undo in self.moves:
            try:
                os.rename(source, destination)
            except OSError as exc:
                stuck = [settings.system_path(self.cfg, d) for _, d, u in reversed(done) if not _attempted(u)]
                error = self._fail(f"rename {settings.system_path(self.cfg, source)} to", destination, exc)
                if stuck:
                    error = CommandExecutionError(f"{error} These could not be put back: {', '.join(stuck)}.")
                raise error from exc
            done.append((source, destination, undo))
        for old in self.kept:
            if not _discard(old):
                log.warning("assist: could not delete %s, an old copy kept during a change", old)


def _attempted(operation):
    try:
        operation()
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------- backends


class Backend:
    """What every init system answers. Linux backends share the client's files and
    processes; each says how its init system controls the client and where it keeps
    the client's unit, job or script (its registration)."""

    name = None
    setting = None  # the assist:lookup key that names the client's service (its unit, job or script)
    has_watchdog = True  # the watchdog exists on Linux only
    stop_warning = None

    def __init__(self, cfg, funcs, context, evidence):
        self.cfg, self.funcs, self.context, self.evidence = cfg, funcs, context, evidence

    def run(self, argv, step, ok=(0,)):
        return run(self.funcs, self.cfg, argv, step, ok)

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
        """The client's unit, job or script: {"what": it in words, with its path,
        "text": what it says (the program it runs is found in it), "problem": words
        when it is there but unusable, else None}; None when there is none."""
        raise NotImplementedError

    def registration_name(self):
        """The client's unit, job or script in words, for when it is missing."""
        raise NotImplementedError

    def registry_dirs(self):
        """The folders (the managed system's paths) where this init system keeps what
        starts at boot; removing the watchdog changes them too."""
        return []

    def missing(self):
        """What a minion without the agent lacks, in words."""
        return f"{self.registration_name()} ({self.key}) and the client under {self.cfg['client_dir']} are missing"

    def installation(self, pids=()):
        """Whether the agent is installed: {"installed", "registered", "incomplete"}.
        Installed: its unit, job or script and the client program that names. Not
        installed: neither, and no client process. Anything between is incomplete,
        said in words with its paths; no verb acts on it."""
        found = self.registration()
        problem = None
        if found is None:
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
        ret = {"installed": found is not None and problem is None, "registered": found is not None, "incomplete": problem}
        if found and "activity" in found:  # the init system answered both in one question
            ret["activity"] = found["activity"]
        return ret

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
        """Start, stop or restart the client with the init system's own command; the
        command, in words."""
        argv = self.command(verb)
        self.run(argv, f"{VERB_ING[verb]} the client")
        return f"`{' '.join(argv)}`"

    def command(self, verb):
        raise NotImplementedError

    def active(self):
        """Whether the init system says the client runs."""
        raise NotImplementedError

    def activity(self):
        """ "running", "stopped", or "restart pending": down, but the init system will
        start it by itself later (a restart delay under way)."""
        return "running" if self.active() else "stopped"

    def enabled(self):
        raise NotImplementedError

    def set_enabled(self, on):
        """Turn start at boot on or off; what did it (a command, or files), in words."""
        raise NotImplementedError

    def allow_start(self, test):
        """Make the client startable where start at boot being off forbids a start (made
        only when not ``test``); the change, or None. Only Windows has such a setting."""
        return None

    def client_pids(self):
        prefix = settings.host_path(self.cfg, self.cfg["client_dir"]).rstrip("/") + "/"
        return program_pids(lambda arg: arg.startswith(prefix) and arg.endswith("/aliyun-service"))

    def version(self):
        """The installed agent's version, read from its version file, or None."""
        try:
            with open(settings.host_path(self.cfg, self.cfg["client_dir"] + "/version"), encoding="utf-8") as handle:
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
            raise os_error(f"reading the {self.name} files", "read", settings.system_path(self.cfg, path), exc) from exc


class Systemd(Backend):
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
            with open(resolve(self.cfg["root"], unit_file), encoding="utf-8", errors="replace") as handle:
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

    def active(self):
        return self.activity() == "running"

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


class Sysvinit(Backend):
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

    def active(self):
        # LSB status codes: 0 running; 1, 2 dead with a pid or lock file left; 3 not running.
        ret = self.run(self.command("status"), "asking the init script", ok=(0, 1, 2, 3))
        return ret["retcode"] == 0

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
        change = FileChange(self.cfg, f"turning start at boot {'on' if on else 'off'}")
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


class Upstart(Backend):
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

    def active(self):
        ret = self.run(self.command("status"), "asking UpStart for the client's state")
        return "start/" in ret["stdout"]

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
            self._set_manual(not on, FileChange(self.cfg, step))
            return f"`manual` in /etc/init/{self.cfg['upstart_job']}.override"
        self._set_start_on(on, FileChange(self.cfg, step))
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


class Windows(Backend):
    """Salt's own service module (``win_service``) drives the Windows service manager.

    Start at boot is the service's start type: on is Automatic, off is Manual. Not
    Disabled: nothing can start a Disabled service, the vendor's own tools included, and
    the vendor warns that an instance whose AliyunService is stopped may no longer be
    stoppable from the ECS console; Manual keeps the way back open. A service found
    Disabled (set by hand or by another tool) counts as off too, and a start must leave
    Disabled first (Salt's ``service.start`` would switch it to Manual silently): the
    start does it itself and reports it in its changes.
    """

    name = "windows"
    setting = "windows_service"
    has_watchdog = False
    stop_warning = (
        "AliyunService is the Cloud Assistant client. With it stopped the instance may "
        "misbehave and may no longer be stoppable from the ECS console."
    )
    # Salt's service.status answers this string, which is true, for a missing service
    # (Salt 3006 and later).
    NOT_FOUND = "Not Found"

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

    def client_programs(self):
        return []  # the service manager answers for the client

    def _missing(self):
        """The service gone between two questions (deleted meanwhile)."""
        return CommandExecutionError(f"{self.missing()}. Nothing was changed.")

    def _service(self, verb):
        if not self.funcs[f"service.{verb}"](self.service()):
            raise CommandExecutionError(f"{VERB_ING[verb]} {self.service()} failed: Salt's service.{verb} returned False")
        return f"Salt's service.{verb} {self.service()}"

    def control(self, verb):
        return self._service(verb)

    def active(self):
        found = self.funcs["service.status"](self.service())
        if found == self.NOT_FOUND:
            raise self._missing()
        return found is True

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

    def client_pids(self):
        return []  # the service manager answers for the client

    def version(self):
        """The newest version folder under %ProgramData%\\aliyun\\assist."""
        base = os.path.join(os.environ.get("ProgramData", r"C:\ProgramData"), "aliyun", "assist")
        try:
            found = [d for d in os.listdir(base) if re.match(r"^\d+(\.\d+)+$", d)]
        except OSError:
            return None
        return max(found, key=lambda v: [int(p) for p in v.split(".")], default=None)


BACKENDS = {backend.name: backend for backend in (Systemd, Upstart, Sysvinit, Windows)}
