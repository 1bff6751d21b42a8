"""
The watchdog (``assist_daemon``, Linux only): what is there, and its removal in the
vendor's order: ``--stop``, ``--delete``, then its directory.

Crash-safe: the directory is first renamed, in one step, to a name only this module
uses beside it, and only then deleted. A removal killed at any moment (job killed,
minion restarted, power lost) leaves either the whole directory with its binary (the
next removal starts over) or that renamed remainder (the next removal finishes
deleting it). A directory that never held the watchdog binary is never removed.
"""

import errno
import logging
import os
import shutil
import signal
import time

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_files, assist_process
    from saltext.assist.utils import assist_settings as settings
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path
    import assist_files
    import assist_process
    import assist_settings as settings


def _paths(cfg):
    directory = settings.host_path(cfg, cfg["daemon_dir"])
    parent, name = os.path.split(directory)
    return directory, settings.host_path(cfg, cfg["daemon_path"]), os.path.join(parent, f".{name}.assist-salt-removing")


def pids(cfg):
    return assist_process.program_pids(settings.host_path(cfg, cfg["daemon_path"]))


def status(cfg):
    """Installed (its binary is there), running (a process of it lives), pids, path."""
    found = pids(cfg)
    return {
        "installed": os.path.isfile(_paths(cfg)[1]),
        "running": bool(found),
        "pids": found,
        "path": cfg["daemon_path"],
    }


def present(cfg, found=None):
    """Whether anything of the watchdog is left: binary, process, directory, remainder."""
    found = found or status(cfg)
    return found["installed"] or found["running"] or any(os.path.lexists(p) for p in _paths(cfg)[::2])


def guard(cfg):
    """Refuse unless the directory is a real one (no symbolic link on the way) holding
    the watchdog binary, and nothing but this module's own remainder lies at the
    remainder's name. Raises with the setting named and the reason."""
    directory, binary, remainder = _paths(cfg)
    if os.path.lexists(remainder) and not (os.path.islink(remainder) or os.path.isdir(remainder)):
        raise assist_files.os_error(
            "removing the watchdog",
            "use the name",
            settings.system_path(cfg, remainder),
            OSError(errno.EEXIST, "a file is there, where only a folder this module renamed belongs"),
            "Nothing was changed.",
        )
    if not os.path.lexists(directory):
        return
    if os.path.islink(directory):
        _refuse(cfg, "it is a symbolic link")
    if os.path.realpath(directory) != os.path.join(os.path.realpath(cfg["root"]), cfg["daemon_dir"].lstrip("/")):
        _refuse(cfg, "a directory above it is a symbolic link")
    if not os.path.isfile(binary) or os.path.islink(binary):
        _refuse(cfg, f"it does not hold the watchdog binary {cfg['daemon_path']}")


def _refuse(cfg, why):
    raise CommandExecutionError(f"assist:lookup:daemon_dir: {cfg['daemon_dir']!r} is refused: {why}; nothing was removed")


def check(cfg, registry_dirs):
    """Refuse, before anything changes, a removal that could not be finished: the
    guard's refusals, and a folder the removal changes that cannot be changed (the
    watchdog's own folder's parent; where the init system keeps what starts at boot,
    from which ``assist_daemon --delete`` unregisters the watchdog)."""
    guard(cfg)
    parent = os.path.dirname(cfg["daemon_dir"])
    unchanged = "Nothing was changed: the watchdog and the client are as they were."
    assist_files.check_writable(cfg, [parent], "removing the watchdog", "its folder is renamed there", unchanged)
    assist_files.check_writable(
        cfg, registry_dirs, "removing the watchdog", "assist_daemon --delete unregisters the watchdog there", unchanged
    )


def remove(cfg, funcs, registry_dirs=()):
    """The vendor's order, then check: nothing of the watchdog may be left."""
    directory, binary, remainder = _paths(cfg)
    check(cfg, registry_dirs)
    _delete_remainder(cfg, remainder, "")  # an earlier removal that was cut short
    if os.path.lexists(directory):
        settings.may_run(cfg, cfg["daemon_path"], "removing the watchdog")
        assist_process.run(funcs, cfg, [binary, "--stop"], "stopping the watchdog (assist_daemon --stop)")
        log.info("assist: stopped the watchdog (%s --stop)", cfg["daemon_path"])
        assist_process.run(funcs, cfg, [binary, "--delete"], "unregistering the watchdog (assist_daemon --delete)")
        log.info("assist: unregistered the watchdog (%s --delete)", cfg["daemon_path"])
    _end_leftovers(cfg)
    if os.path.lexists(directory):
        try:
            os.rename(directory, remainder)  # atomic: whole directory, or none of it
        except OSError as exc:
            raise assist_files.os_error(
                "removing the watchdog",
                f"rename {cfg['daemon_dir']} to",
                settings.system_path(cfg, remainder),
                exc,
                "The watchdog is stopped and unregistered; its folder is left whole, and the next removal deletes it.",
            ) from exc
        _delete_remainder(cfg, remainder, "The watchdog is stopped and unregistered; ")
        log.info("assist: removed the watchdog's folder %s", cfg["daemon_dir"])
    after = status(cfg)
    if present(cfg, after):
        raise CommandExecutionError(f"removing the watchdog failed: it is still there: {after}")


def _delete_remainder(cfg, remainder, done):
    try:
        if os.path.islink(remainder):  # never followed: only the link goes
            os.unlink(remainder)
        elif os.path.lexists(remainder):
            shutil.rmtree(remainder)
    except OSError as exc:
        where = settings.system_path(cfg, remainder)
        raise assist_files.os_error(
            "removing the watchdog",
            "delete",
            settings.system_path(cfg, exc.filename) if exc.filename else where,
            exc,
            f"{done}what is left of its folder is at {where}, and the next removal deletes it.",
        ) from exc


def _end_leftovers(cfg):
    """Watchdog processes that outlive --stop (or whose binary is gone): TERM, then KILL."""
    half = cfg["verify_seconds"] / 2
    if wait(lambda: not pids(cfg), half):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids(cfg):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
            except OSError as exc:
                raise assist_files.os_error(
                    "removing the watchdog",
                    f"send {sig.name} to",
                    f"process {pid} of {cfg['daemon_path']}",
                    exc,
                    "The watchdog's folder is left; the client was left as it was.",
                ) from exc
        if wait(lambda: not pids(cfg), half):
            return
    raise CommandExecutionError(
        f"removing the watchdog failed: process(es) {pids(cfg)} of {cfg['daemon_path']} "
        "survive SIGKILL; the client was left as it was"
    )


def wait(predicate, seconds, interval=0.05):
    """Poll until the predicate holds; False when the time ran out first."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
