"""
The one table of ``assist:lookup`` settings and the one check of the pillar policy.

Every other place (the execution module, the grain, ``pillar.example``, docs/configuration.md)
takes the settings and their defaults from here; a unit test holds them to it.
"""

import logging
import os
import re
from collections.abc import Mapping

import salt.utils.data
import salt.utils.dictupdate
from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

# key: (default, kind, meaning). The defaults are the vendor's names and paths.
SETTINGS = {
    "root": ("/", "path", "where the managed system's files are: / on a minion; a folder for tests, demos, offline images"),
    "run_image_programs": (
        False,
        "bool",
        "with a root other than /, run the programs found there (init script, initctl, watchdog); "
        "only for sandboxes whose programs are built for this host",
    ),
    "init_system": ("auto", "init", "auto, or systemd, upstart, sysvinit, windows"),
    "init_path": ("/sbin/init", "path", "the file read to detect the init system"),
    "systemd_unit": (
        "auto",
        "name",
        "the client's systemd unit; auto finds it: aliyun.service, aliyun-service.service, "
        "or the unit whose ExecStart runs the agent",
    ),
    "upstart_job": ("aliyun-service", "name", "the client's UpStart job"),
    "sysv_script": ("/etc/init.d/aliyun-service", "path", "the client's sysvinit script"),
    "windows_service": ("AliyunService", "name", "the client's Windows service"),
    "daemon_path": ("/usr/local/share/assist-daemon/assist_daemon", "path", "the watchdog binary, directly inside daemon_dir"),
    "daemon_dir": ("/usr/local/share/assist-daemon", "path", "the only directory ever removed"),
    "client_dir": ("/usr/local/share/aliyun-assist", "path", "the agent's files; never changed or removed"),
    "timeout": (60, "seconds", "seconds allowed for any one command (and for waiting on the lock)"),
    "verify_seconds": (5, "seconds", "how long a stop or start waits to see its result"),
}
DEFAULTS = {key: default for key, (default, _, _) in SETTINGS.items()}
INIT_SYSTEMS = ("systemd", "upstart", "sysvinit", "windows")

# Registration of the instance and the agent's configuration: never changed or removed.
NEVER_TOUCH = ("/usr/local/share/aliyun-assist", "/etc/sysconfig/aliyun")

# Directories whose removal would wreck a system, whatever a setting says.
SYSTEM_DIRS = frozenset(
    "/bin /boot /dev /etc /home /lib /lib32 /lib64 /media /mnt /opt /proc /root /run "
    "/sbin /srv /sys /tmp /usr /var /etc/init.d /usr/bin /usr/lib /usr/lib64 /usr/sbin "
    "/usr/share /usr/local /usr/local/bin /usr/local/lib /usr/local/sbin /usr/local/share "
    "/var/lib /var/log /var/run /var/tmp".split()
)

SERVICE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@:-]*$")


def _refuse(key, value, why):
    raise CommandExecutionError(f"assist:lookup:{key}: {value!r} is refused: {why}")


_MISSING = object()


def lookup(opts, grains, pillar):
    """``assist:lookup`` as ``config.get("assist:lookup", merge="recurse")`` finds it:
    the pillar's ``master`` mapping, the pillar, the grains, then the minion config,
    each later one merged over the earlier key by key. Only that key is merged:
    config.get merges the whole of every store and reads /etc/salt/master on each call,
    which was most of the time a minion spent in assist.status or assist.audit."""
    merged = {}
    master = pillar.get("master")
    # The loader's dunders are not Mappings (they proxy one); they have get().
    for store in ([master] if isinstance(master, Mapping) else []) + [pillar, grains, opts]:
        found = store.get("assist", _MISSING)
        if found is _MISSING:
            continue
        if isinstance(found, Mapping):  # of assist, only lookup can change the answer
            # get(), not [], on purpose: Salt 3008's opts copy a nested dict read with []
            # into the module's own layer, which then misses later changes of the opts.
            found = {"lookup": found.get("lookup")} if "lookup" in found else {}
        merged = salt.utils.dictupdate.merge(merged, {"assist": found}, strategy="recurse")
    return salt.utils.data.traverse_dict_and_list(merged, "assist:lookup", {})


def load(given):
    """The settings: ``given`` (assist:lookup, as ``lookup`` merges it) over the defaults.
    Every given value is checked before anything runs; the defaults need no check (a
    unit test holds them to every check)."""
    if not isinstance(given, dict):
        raise CommandExecutionError(f"assist:lookup must be a mapping of settings, not {type(given).__name__}")
    unknown = sorted(map(str, set(given) - set(SETTINGS)))
    if unknown:
        raise CommandExecutionError(
            f"assist:lookup: unknown setting(s) {', '.join(unknown)}; known settings are {', '.join(sorted(SETTINGS))}"
        )
    cfg = dict(DEFAULTS)
    for key, value in given.items():
        cfg[key] = checked(key, value)
    log.debug("assist: settings given in assist:lookup: %s", given or "none, the defaults")
    if given.keys() & {"daemon_dir", "daemon_path", "client_dir"}:
        check_daemon_dir(cfg)
    return cfg


def checked(key, value):
    """One setting's value, checked (paths come back normalised)."""
    kind = SETTINGS[key][1]
    if kind == "path":
        value = _checked_path(key, value)
        if key == "root" and not os.path.isdir(value):
            _refuse("root", value, "no such directory")
    elif kind == "name":
        if not isinstance(value, str) or not SERVICE_NAME.match(value):
            _refuse(key, value, "a service name has letters, digits and _ . @ : - only")
    elif kind == "init":
        if value not in ("auto",) + INIT_SYSTEMS:
            _refuse(key, value, f"use auto or one of {', '.join(INIT_SYSTEMS)}")
    elif kind == "bool":
        if not isinstance(value, bool):
            _refuse(key, value, "use true or false")
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        _refuse(key, value, "give a positive number of seconds")
    return value


def _checked_path(key, value):
    if not isinstance(value, str) or not value:
        _refuse(key, value, "give an absolute path as a string")
    if not value.startswith("/"):
        _refuse(key, value, "the path must be absolute")
    if "\0" in value:
        _refuse(key, value, "the path holds a NUL byte")
    if ".." in value.split("/"):
        _refuse(key, value, "the path must not contain '..'; give the plain absolute path")
    return os.path.normpath(value)


def _inside(path, parent):
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def check_daemon_dir(cfg):
    """Refuse any watchdog directory that is not plainly the watchdog's own folder."""
    directory = cfg["daemon_dir"]
    if directory == "/" or directory in SYSTEM_DIRS or directory.count("/") < 2:
        _refuse("daemon_dir", directory, "it is a system directory, not the watchdog's own")
    for keep in NEVER_TOUCH + (cfg["client_dir"],):
        if _inside(directory, keep) or _inside(keep, directory):
            _refuse("daemon_dir", directory, f"it overlaps {keep}, which must never be removed")
    if os.path.dirname(cfg["daemon_path"]) != directory:
        _refuse(
            "daemon_path",
            cfg["daemon_path"],
            f"the watchdog binary must lie directly in assist:lookup:daemon_dir ({directory})",
        )


def host_path(cfg, path):
    """Where a path of the managed system lies on this host (under assist:lookup:root)."""
    return os.path.join(cfg["root"], path.lstrip("/"))


def system_path(cfg, path):
    """The managed system's own name for a path of this host under assist:lookup:root
    (host_path undone), as messages show it."""
    if cfg["root"] == "/":
        return path
    return os.path.join("/", os.path.relpath(path, cfg["root"]))


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


def may_run(cfg, program, why):
    """Refuse to run a program of an image unless the settings allow it: an image's init
    script, initctl or watchdog would act on this host's own processes."""
    if cfg["root"] != "/" and not cfg["run_image_programs"]:
        raise CommandExecutionError(
            f"{why} would run {program} from assist:lookup:root ({cfg['root']}), which could "
            "act on this host's own agent; nothing was changed. Leave root at / on a minion, "
            "or set assist:lookup:run_image_programs to true for a sandbox whose programs "
            "are built for this host."
        )
