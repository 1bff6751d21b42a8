"""
Stop, start and audit Alibaba Cloud's Cloud Assistant agent.

The agent runs as a service: ``aliyun.service`` on systemd, the job ``aliyun-service``
on UpStart, ``/etc/init.d/aliyun-service`` on sysvinit and ``AliyunService`` on
Windows. On Linux a watchdog, ``/usr/local/share/assist-daemon/assist_daemon``,
restarts the agent when it dies, so it must be removed (``--stop``, ``--delete``, then
its directory) before the agent can be stopped for good. This module follows the
vendor's procedure and checks the outcome.

Settings live under ``assist:lookup`` in the minion config, grains or pillar, read with
``config.get`` and merged key by key (minion config over grains over pillar); every key
is optional:

.. code-block:: yaml

    assist:
      lookup:
        root: /
        init_system: auto
        init_path: /sbin/init
        systemd_unit: aliyun.service
        upstart_job: aliyun-service
        sysv_script: /etc/init.d/aliyun-service
        windows_service: AliyunService
        daemon_path: /usr/local/share/assist-daemon/assist_daemon
        daemon_dir: /usr/local/share/assist-daemon
        client_dir: /usr/local/share/aliyun-assist
        timeout: 60
        verify_seconds: 5
"""

import contextlib
import logging
import os
import re
import shutil
import signal
import time

import salt.utils.platform
from salt.exceptions import CommandExecutionError

try:  # installed as a Salt extension (pip)
    from saltext.assist._utils import assist_facts as facts
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path while loading
    try:
        import assist_facts as facts
    except ImportError:
        facts = None

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = logging.getLogger(__name__)

__virtualname__ = "assist"

DEFAULTS = {
    "root": "/",
    "init_system": "auto",
    "init_path": "/sbin/init",
    "systemd_unit": "aliyun.service",
    "upstart_job": "aliyun-service",
    "sysv_script": "/etc/init.d/aliyun-service",
    "windows_service": "AliyunService",
    "daemon_path": "/usr/local/share/assist-daemon/assist_daemon",
    "daemon_dir": "/usr/local/share/assist-daemon",
    "client_dir": "/usr/local/share/aliyun-assist",
    "timeout": 60,
    "verify_seconds": 5,
}
INIT_SYSTEMS = ("systemd", "upstart", "sysvinit", "windows")
PATH_SETTINGS = ("root", "init_path", "sysv_script", "daemon_path", "daemon_dir", "client_dir")
SERVICE_SETTINGS = ("systemd_unit", "upstart_job", "windows_service")

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

WINDOWS_WARNING = (
    "AliyunService is the Cloud Assistant client. With it stopped the instance may "
    "misbehave and may no longer be stoppable from the ECS console."
)


def __virtual__():
    if facts is None:
        return (False, "assist: _utils/assist_facts.py is missing; run saltutil.sync_all")
    if salt.utils.platform.is_linux() or salt.utils.platform.is_windows():
        return __virtualname__
    return (False, "assist: the Cloud Assistant agent exists on Linux and Windows only")


# --------------------------------------------------------------------------- settings


def _fail(key, value, why):
    raise CommandExecutionError(f"assist:lookup:{key}: {value!r} is refused: {why}")


def _check_path(key, value):
    if not isinstance(value, str) or not value:
        _fail(key, value, "give an absolute path as a string")
    if not value.startswith("/"):
        _fail(key, value, "the path must be absolute")
    if "\0" in value:
        _fail(key, value, "the path holds a NUL byte")
    if ".." in value.split("/"):
        _fail(key, value, "the path must not contain '..'; give the plain absolute path")
    return os.path.normpath(value)


def _inside(path, parent):
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _check_daemon_dir(cfg):
    """Refuse any watchdog directory that is not plainly the watchdog's own folder."""
    directory = cfg["daemon_dir"]
    if directory == "/" or directory in SYSTEM_DIRS or directory.count("/") < 2:
        _fail("daemon_dir", directory, "it is a system directory, not the watchdog's own")
    for keep in NEVER_TOUCH + (cfg["client_dir"],):
        if _inside(directory, keep) or _inside(keep, directory):
            _fail("daemon_dir", directory, f"it overlaps {keep}, which must never be removed")
    if os.path.dirname(cfg["daemon_path"]) != directory:
        _fail(
            "daemon_path",
            cfg["daemon_path"],
            f"the watchdog binary must lie directly in assist:lookup:daemon_dir ({directory})",
        )


def _given():
    """assist:lookup from the minion config, grains and pillar, merged key by key
    (config.get's ranking: minion config over grains over pillar)."""
    given = __salt__["config.get"]("assist:lookup", {}, merge="recurse")
    if not isinstance(given, dict):
        raise CommandExecutionError(
            f"assist:lookup must be a mapping of settings, not {type(given).__name__}"
        )
    return given


def _settings():
    """The merged settings, with every given value checked before anything runs. The
    defaults are the vendor's and need no check (a unit test holds them to every check)."""
    given = _given()
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise CommandExecutionError(
            f"assist:lookup: unknown setting(s) {', '.join(map(str, unknown))}; "
            f"known settings are {', '.join(sorted(DEFAULTS))}"
        )
    cfg = dict(DEFAULTS, **given)
    for key in given:
        cfg[key] = _checked(key, cfg[key])
    if given.keys() & {"daemon_dir", "daemon_path", "client_dir"}:
        _check_daemon_dir(cfg)
    return cfg


def _checked(key, value):
    """One setting's value, checked (paths come back normalised)."""
    if key in PATH_SETTINGS:
        value = _check_path(key, value)
        if key == "root" and not os.path.isdir(value):
            _fail("root", value, "no such directory")
    elif key in SERVICE_SETTINGS:
        if not isinstance(value, str) or not SERVICE_NAME.match(value):
            _fail(key, value, "a service name has letters, digits and _ . @ : - only")
    elif key == "init_system":
        if value not in ("auto",) + INIT_SYSTEMS:
            _fail("init_system", value, f"use auto or one of {', '.join(INIT_SYSTEMS)}")
    elif isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        _fail(key, value, "give a positive number of seconds")  # timeout, verify_seconds
    return value


def _host(cfg, path):
    """Where a path of the managed system lies on this host (under assist:lookup:root)."""
    return os.path.join(cfg["root"], path.lstrip("/"))


# --------------------------------------------------------------------------- commands


def _run(cfg, argv, step, ok=(0,)):
    """Run one command as an argument list; a failure names the step and the command."""
    ret = __salt__["cmd.run_all"](
        argv,
        python_shell=False,
        timeout=cfg["timeout"],
        ignore_retcode=True,
        output_loglevel="debug",
        env={"LC_ALL": "C"},
    )
    if ret["retcode"] not in ok:
        said = (ret.get("stderr") or ret.get("stdout") or "no output").strip()
        raise CommandExecutionError(
            f"{step} failed: `{' '.join(argv)}` exited {ret['retcode']}: {said}"
        )
    return ret


@contextlib.contextmanager
def _lock(cfg):
    """Serialise mutating calls on this minion: two jobs must not interleave a stop."""
    if fcntl is None:  # Windows: the service control manager serialises for us
        yield
        return
    path = os.path.join(__opts__["cachedir"], "assist.lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise CommandExecutionError(
            f"taking the lock failed: cannot open {path} ({exc.strerror}); "
            "the minion's cache directory must be writable"
        ) from exc
    try:
        deadline = time.monotonic() + cfg["timeout"]
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CommandExecutionError(
                        f"taking the lock failed: another assist job held {path} "
                        f"for more than {cfg['timeout']} s; nothing was changed"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def _wait(predicate, seconds, interval=0.05):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


# --------------------------------------------------------------------------- processes


def _alive(pid):
    """A process is alive while it exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def _pids(match):
    """Live pids whose program (argv[0], or argv[1] after an interpreter) matches."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")[:2]
        except OSError:
            continue
        if any(match(arg.decode("utf-8", "replace")) for arg in argv) and _alive(entry):
            found.append(int(entry))
    return sorted(found)


def _client_pids(cfg):
    prefix = _host(cfg, cfg["client_dir"]).rstrip("/") + "/"
    return _pids(lambda arg: arg.startswith(prefix) and arg.endswith("/aliyun-service"))


def _daemon_pids(cfg):
    binary = _host(cfg, cfg["daemon_path"])
    return _pids(lambda arg: arg == binary)


# --------------------------------------------------------------------------- init system


def _upstart_running(cfg):
    """UpStart's own answer; only asked where /sbin/initctl exists (a failure means no)."""
    initctl = _host(cfg, "/sbin/initctl")
    if not os.access(initctl, os.X_OK):
        return False
    ret = __salt__["cmd.run_all"](
        [initctl, "--version"],
        python_shell=False,
        ignore_retcode=True,
        timeout=cfg["timeout"],
        output_loglevel="quiet",
    )
    return ret["retcode"] == 0 and "upstart" in ret["stdout"]


def _detect(cfg):
    """Which init system manages the agent, and the evidence that decided it."""
    if salt.utils.platform.is_windows():
        return {"system": "windows", "evidence": "the minion runs on Windows"}
    if cfg["init_system"] != "auto":
        return {"system": cfg["init_system"], "evidence": "set by assist:lookup:init_system"}
    if facts.systemd_running(cfg["root"]):
        return {"system": "systemd", "evidence": "/run/systemd/system exists (systemd runs)"}
    if _upstart_running(cfg):
        return {"system": "upstart", "evidence": "initctl --version names upstart"}
    try:
        found = facts.init_marker(cfg["root"], cfg["init_path"])
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


def _init(cfg):
    """The detected init system, cached for this process (one file read, at most)."""
    key = (cfg["root"], cfg["init_path"], cfg["init_system"])
    cached = __context__.get("assist.init_system")
    if not cached or cached[0] != key:
        cached = __context__["assist.init_system"] = (key, _detect(cfg))
    return dict(cached[1])


def _controllable(cfg, init):
    """Raise unless the init system can act now; a container without its init cannot."""
    system = init["system"]
    if system == "systemd" and not facts.systemd_running(cfg["root"]):
        raise CommandExecutionError(
            f"systemd is installed ({init['evidence']}) but is not running as PID 1 "
            "(no /run/systemd/system), as in a container or chroot without its init; "
            "nothing was changed. Run this on the booted system, or set "
            "assist:lookup:init_system if the detection is wrong."
        )
    if system == "upstart" and not os.access(_host(cfg, "/sbin/initctl"), os.X_OK):
        raise CommandExecutionError(
            "UpStart was detected but /sbin/initctl is missing; nothing was changed"
        )
    if system == "sysvinit":
        script = _host(cfg, cfg["sysv_script"])
        if not os.path.isfile(script) or not os.access(script, os.X_OK):
            state = "not executable" if os.path.isfile(script) else "missing"
            raise CommandExecutionError(
                f"the client's init script {cfg['sysv_script']} is {state} "
                "(assist:lookup:sysv_script); is the Cloud Assistant agent installed? "
                "Nothing was changed."
            )


def _service(cfg, system):
    return {
        "systemd": cfg["systemd_unit"],
        "upstart": cfg["upstart_job"],
        "sysvinit": cfg["sysv_script"],
        "windows": cfg["windows_service"],
    }[system]


def _client_command(cfg, system, verb):
    """The vendor's command for start, stop or restart on this init system."""
    if system == "systemd":
        return ["systemctl", verb, cfg["systemd_unit"]]
    if system == "upstart":
        return [_host(cfg, "/sbin/initctl"), verb, cfg["upstart_job"]]
    return [_host(cfg, cfg["sysv_script"]), verb]


def _client_active(cfg, system):
    """Whether the init system says the client runs: one command."""
    if system == "systemd":
        ret = _run(
            cfg,
            ["systemctl", "show", cfg["systemd_unit"], "--property=ActiveState,LoadState"],
            "asking systemd for the client's state",
        )
        props = dict(line.split("=", 1) for line in ret["stdout"].splitlines() if "=" in line)
        if props.get("LoadState") == "not-found":
            raise CommandExecutionError(
                f"the unit {cfg['systemd_unit']} is not installed (assist:lookup:systemd_unit)"
            )
        return props.get("ActiveState") not in ("inactive", "failed", None)
    if system == "upstart":
        ret = _run(cfg, _client_command(cfg, system, "status"), "asking UpStart for the client's state")
        return "start/" in ret["stdout"]
    # LSB status codes: 0 running; 1, 2 dead with a pid or lock file left; 3 not running.
    ret = _run(cfg, _client_command(cfg, system, "status"), "asking the init script", ok=(0, 1, 2, 3))
    return ret["retcode"] == 0


def _client_state(cfg, system):
    """Whether the init system says the client runs, and the live client pids."""
    if system == "windows":
        return bool(__salt__["service.status"](cfg["windows_service"])), []
    return _client_active(cfg, system), _client_pids(cfg)


def _client_running(cfg, system):
    """True while the init system says so or any client process lives."""
    active, pids = _client_state(cfg, system)
    return active or bool(pids)


# --------------------------------------------------------------------------- start at boot


def _rc_links(cfg):
    """The sysvinit start (S) and kill (K) links of the client's script, by runlevel."""
    name = os.path.basename(cfg["sysv_script"])
    links = {}
    for level in "0123456":
        directory = _host(cfg, f"/etc/rc{level}.d")
        try:
            entries = os.listdir(directory)
        except OSError:
            entries = []
        links[level] = [
            os.path.join(directory, e)
            for e in entries
            if re.match(r"^[SK]\d\d", e) and e[3:] == name
        ]
    return links


def _enabled(cfg, system):
    if system == "systemd":
        ret = _run(
            cfg,
            ["systemctl", "is-enabled", cfg["systemd_unit"]],
            "asking systemd whether the client starts at boot",
            ok=(0, 1),
        )
        return ret["stdout"].strip() in ("enabled", "enabled-runtime")
    if system == "upstart":
        override = _host(cfg, f"/etc/init/{cfg['upstart_job']}.override")
        return "manual" not in _read_lines(override)
    if system == "windows":
        return bool(__salt__["service.enabled"](cfg["windows_service"]))
    links = _rc_links(cfg)
    return any(os.path.basename(l).startswith("S") for level in "2345" for l in links[level])


def _read_lines(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.strip() for line in handle]
    except FileNotFoundError:
        return []


def _set_enabled(cfg, system, on):
    """Start at boot on or off, the way each init system records it."""
    if system == "systemd":
        verb = "enable" if on else "disable"
        _run(cfg, ["systemctl", verb, cfg["systemd_unit"]], f"systemctl {verb}")
    elif system == "upstart":
        _set_upstart_manual(cfg, not on)
    elif system == "windows":
        verb = "enable" if on else "disable"
        if not __salt__[f"service.{verb}"](cfg["windows_service"]):
            raise CommandExecutionError(f"service.{verb} {cfg['windows_service']} failed")
    else:
        _set_rc_links(cfg, on)


def _set_upstart_manual(cfg, manual):
    override = _host(cfg, f"/etc/init/{cfg['upstart_job']}.override")
    lines = [line for line in _read_lines(override) if line != "manual"]
    if manual:
        lines.append("manual")
    if lines:
        with open(override, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    elif os.path.exists(override):
        os.unlink(override)


def _set_rc_links(cfg, on):
    """Like update-rc.d: enabling makes S links in 2-5, disabling renames them to K."""
    name = os.path.basename(cfg["sysv_script"])
    links = _rc_links(cfg)
    for level in "0123456":
        directory = _host(cfg, f"/etc/rc{level}.d")
        target = os.path.relpath(_host(cfg, cfg["sysv_script"]), directory)
        if level in "016":
            if not links[level]:
                os.makedirs(directory, exist_ok=True)
                os.symlink(target, os.path.join(directory, f"K02{name}"))
            continue
        wanted, unwanted = ("S", "K") if on else ("K", "S")
        for link in links[level]:
            base = os.path.basename(link)
            if base.startswith(unwanted):
                os.rename(link, os.path.join(directory, wanted + base[1:]))
        if not links[level]:
            os.makedirs(directory, exist_ok=True)
            os.symlink(target, os.path.join(directory, f"{wanted}{'50' if on else '02'}{name}"))


# --------------------------------------------------------------------------- watchdog


def _daemon(cfg):
    if salt.utils.platform.is_windows():
        return {"installed": False, "running": False, "pids": [], "path": None}
    binary = _host(cfg, cfg["daemon_path"])
    pids = _daemon_pids(cfg)
    return {
        "installed": os.path.isfile(binary),
        "running": bool(pids),
        "pids": pids,
        "path": cfg["daemon_path"],
    }


def _guard_removal(cfg):
    """Only a real directory that holds the watchdog binary may be removed."""
    directory = _host(cfg, cfg["daemon_dir"])
    if os.path.islink(directory):
        _fail("daemon_dir", cfg["daemon_dir"], "it is a symbolic link")
    if os.path.realpath(directory) != os.path.join(
        os.path.realpath(cfg["root"]), cfg["daemon_dir"].lstrip("/")
    ):
        _fail("daemon_dir", cfg["daemon_dir"], "a directory above it is a symbolic link")
    binary = _host(cfg, cfg["daemon_path"])
    if not os.path.isfile(binary) or os.path.islink(binary):
        _fail("daemon_dir", cfg["daemon_dir"], f"it does not hold the watchdog binary {cfg['daemon_path']}")


def _end_leftovers(cfg):
    """Watchdog processes that outlive --stop (or a binary already gone): TERM, then KILL."""
    if _wait(lambda: not _daemon_pids(cfg), cfg["verify_seconds"] / 2):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _daemon_pids(cfg):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if _wait(lambda: not _daemon_pids(cfg), cfg["verify_seconds"] / 2):
            return
    raise CommandExecutionError(
        f"removing the watchdog failed: process(es) {_daemon_pids(cfg)} of "
        f"{cfg['daemon_path']} survive SIGKILL; the client was left as it was"
    )


def _remove_daemon(cfg):
    """The vendor's order: --stop, --delete, remove the directory; then check."""
    directory = _host(cfg, cfg["daemon_dir"])
    binary = _host(cfg, cfg["daemon_path"])
    if os.path.lexists(directory):
        _run(cfg, [binary, "--stop"], "stopping the watchdog (assist_daemon --stop)")
        _run(cfg, [binary, "--delete"], "unregistering the watchdog (assist_daemon --delete)")
    _end_leftovers(cfg)
    if os.path.lexists(directory):
        shutil.rmtree(directory)
    after = _daemon(cfg)
    if after["installed"] or after["running"] or os.path.lexists(directory):
        raise CommandExecutionError(f"removing the watchdog failed: it is still there: {after}")


def _daemon_step(cfg, test):
    """Remove the watchdog if there is any trace of it; the change, or None."""
    before = _daemon(cfg)
    directory = _host(cfg, cfg["daemon_dir"])
    if not (before["installed"] or before["running"] or os.path.lexists(directory)):
        return None
    if os.path.lexists(directory):
        _guard_removal(cfg)  # in test mode too: a refusal is worth predicting
    if not test:
        _remove_daemon(cfg)
    return {"old": "running" if before["running"] else "installed", "new": "absent"}


def _boot_step(cfg, system, on, test):
    """Turn start at boot on or off if it differs; the change, or None."""
    if _enabled(cfg, system) == on:
        return None
    if not test:
        _set_enabled(cfg, system, on)
    return {"old": not on, "new": on}


def _stop_client(cfg, system, active):
    """Stop the client and check that it stays down."""
    if system == "windows":
        if not __salt__["service.stop"](cfg["windows_service"]):
            raise CommandExecutionError(f"stopping {cfg['windows_service']} failed")
        return
    if active:
        _run(cfg, _client_command(cfg, system, "stop"), "stopping the client")
    down = _wait(lambda: not _client_pids(cfg), cfg["verify_seconds"])
    if not down or _client_active(cfg, system) or _daemon_pids(cfg):
        raise CommandExecutionError(
            f"stopping the client failed: it is still running {cfg['verify_seconds']} s "
            f"after the stop (pids {_client_pids(cfg)}); something restarted it or the "
            "process ignores the init system"
        )


def _start_client(cfg, system, verb):
    """Start or restart the client and check that it runs."""
    if system == "windows":
        if not __salt__[f"service.{verb}"](cfg["windows_service"]):
            raise CommandExecutionError(f"service.{verb} {cfg['windows_service']} failed")
        return
    _run(cfg, _client_command(cfg, system, verb), f"{verb}ing the client")
    if not _wait(lambda: _client_running(cfg, system), cfg["verify_seconds"], 0.1):
        raise CommandExecutionError(
            f"{verb}ing the client failed: the command succeeded but the client is not "
            f"running {cfg['verify_seconds']} s later"
        )


def _ready():
    """Settings and init system, for a call that needs the init system to act."""
    cfg = _settings()
    init = _init(cfg)
    _controllable(cfg, init)
    return cfg, init["system"]


PHRASES = {
    ("daemon", "absent"): "remove the watchdog",
    ("client", "stopped"): "stop the client",
    ("client", "running"): "start the client",
    ("client", "restarted"): "restart the client",
    ("enabled", True): "turn start at boot on",
    ("enabled", False): "turn start at boot off",
}
PAST = {"remove": "removed", "stop": "stopped", "start": "started", "restart": "restarted", "turn": "turned"}


def _result(changes, settled, test):
    """The return of a mutating call: what changed (or would), said in words too."""
    if not changes:
        return {"comment": f"{settled}; nothing to do", "changes": {}}
    phrases = [PHRASES[key, change["new"]] for key, change in changes.items()]
    if test:
        comment = "Would " + ", ".join(phrases)
    else:
        done = [PAST[p.split(" ", 1)[0]] + " " + p.split(" ", 1)[1] for p in phrases]
        comment = ", ".join(done)
        comment = comment[0].upper() + comment[1:]
    return {"comment": comment, "changes": changes}


# --------------------------------------------------------------------------- public


def init_system():
    """
    Return the init system that manages the Cloud Assistant client: ``systemd``,
    ``upstart``, ``sysvinit`` or ``windows``.

    Decided by ``assist:lookup:init_system`` when set, else by the running init
    (``/run/systemd/system``, ``initctl --version``), else as the vendor does, by the
    bytes of ``/sbin/init``. ``assist.status`` also shows the evidence.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.init_system
    """
    return _init(_settings())["system"]


def version():
    """
    Return the installed agent's version, or ``None`` when it is not installed.

    Read from ``/usr/local/share/aliyun-assist/version`` (Windows: the newest version
    folder under ``C:\\ProgramData\\aliyun\\assist``); no command is run.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.version
    """
    cfg = _settings()
    return facts.agent_version(cfg["root"], cfg["client_dir"])


def daemon_status():
    """
    Report the watchdog: whether its binary is installed, whether it runs, its pids and
    path. Windows has no watchdog.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.daemon_status
    """
    return _daemon(_settings())


def status():
    """
    Report everything about the agent on this minion in one dictionary: the init
    system and the evidence for it; the client (service, running, enabled at boot,
    version, pids); the watchdog (installed, running, pids, path).

    ``running`` is true while the init system says so or any client process lives.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.status
        salt '*' assist.status --out=json
    """
    cfg, system = _ready()
    windows = system == "windows"
    return {
        "init": _init(cfg),
        "client": {
            "service": _service(cfg, system),
            "running": _client_running(cfg, system),
            "enabled": _enabled(cfg, system),
            "version": facts.agent_version(cfg["root"], cfg["client_dir"]),
            "pids": [] if windows else _client_pids(cfg),
        },
        "daemon": _daemon(cfg),
    }


def is_running():
    """
    Return ``True`` when the Cloud Assistant client runs, for quick fleet checks.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.is_running
    """
    cfg, system = _ready()
    return _client_running(cfg, system)


def remove_daemon(test=False):
    """
    Remove the watchdog as the vendor says: ``assist_daemon --stop``, then
    ``assist_daemon --delete``, then remove its directory; then check that no watchdog
    process is left. Only the watchdog's own directory is ever removed. The client is
    not touched. Returns the changes, empty when there was no watchdog.

    test : False
        Report what would change, and change nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.remove_daemon
        salt '*' assist.remove_daemon test=True
    """
    cfg = _settings()
    changes = {}
    if not salt.utils.platform.is_windows():
        with _lock(cfg):
            if change := _daemon_step(cfg, test):
                changes["daemon"] = change
    return _result(changes, "The watchdog is absent", test)


def stop(remove_daemon=True, disable=False, test=False):
    """
    Stop the Cloud Assistant client and keep it stopped.

    On Linux the watchdog is removed first (``assist_daemon --stop``, ``--delete``,
    then its directory), then the client is stopped with the init system's own
    command, then the module checks that the client is down and no watchdog is left.
    Already stopped is success with no changes.

    remove_daemon : True
        With ``False`` and a watchdog present, refuse: it would restart the client.

    disable : False
        Also turn off start at boot.

    test : False
        Report what would change, and change nothing.

    On Windows ``AliyunService`` is stopped; the return carries the vendor's warning.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.stop
        salt '*' assist.stop disable=True
        salt '*' assist.stop test=True
    """
    cfg, system = _ready()
    changes = {}
    with _lock(cfg):
        if system != "windows":
            daemon = _daemon(cfg)
            if (daemon["installed"] or daemon["running"]) and not remove_daemon:
                raise CommandExecutionError(
                    f"the watchdog {cfg['daemon_path']} is installed and would restart "
                    "the client; call assist.stop with remove_daemon=True (the default) "
                    "or assist.remove_daemon first. Nothing was changed."
                )
            if change := _daemon_step(cfg, test):
                changes["daemon"] = change
        active, pids = _client_state(cfg, system)
        if active or pids:
            if not test:
                _stop_client(cfg, system, active)
            changes["client"] = {"old": "running", "new": "stopped"}
        if disable and (change := _boot_step(cfg, system, False, test)):
            changes["enabled"] = change
    ret = _result(changes, "The client is stopped", test)
    if system == "windows":
        ret["warning"] = WINDOWS_WARNING
    return ret


def start(enable=False, test=False):
    """
    Start the Cloud Assistant client with the init system's own command, and check
    that it runs. Already running is success with no changes. The watchdog is not
    reinstalled (reinstall the agent's package for that).

    enable : False
        Also turn on start at boot.

    test : False
        Report what would change, and change nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.start
        salt '*' assist.start enable=True
    """
    cfg, system = _ready()
    changes = {}
    with _lock(cfg):
        if enable and (change := _boot_step(cfg, system, True, test)):
            changes["enabled"] = change
        if not _client_running(cfg, system):
            if not test:
                _start_client(cfg, system, "start")
            changes["client"] = {"old": "stopped", "new": "running"}
    return _result(changes, "The client is running", test)


def restart(test=False):
    """
    Restart the Cloud Assistant client with the init system's own command, and check
    that it runs. A stopped client is started.

    test : False
        Report what would change, and change nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.restart
    """
    cfg, system = _ready()
    with _lock(cfg):
        was = "running" if _client_running(cfg, system) else "stopped"
        if not test:
            _start_client(cfg, system, "restart")
    return _result({"client": {"old": was, "new": "restarted"}}, "", test)


def enable(test=False):
    """
    Turn on start at boot for the client: ``systemctl enable``, S links in
    ``/etc/rc[2-5].d``, no ``manual`` in UpStart's ``.override``, or the Windows start
    type.

    test : False
        Report what would change, and change nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.enable
    """
    return _toggle_boot(True, test)


def disable(test=False):
    """
    Turn off start at boot for the client: ``systemctl disable``, K links instead of S
    links in ``/etc/rc[2-5].d``, ``manual`` in UpStart's ``.override``, or the Windows
    start type. The running client is not stopped.

    test : False
        Report what would change, and change nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.disable
    """
    return _toggle_boot(False, test)


def _toggle_boot(on, test):
    cfg, system = _ready()
    changes = {}
    with _lock(cfg):
        if change := _boot_step(cfg, system, on, test):
            changes["enabled"] = change
    return _result(changes, f"Start at boot is {'on' if on else 'off'}", test)
