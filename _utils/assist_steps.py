"""
The steps the verbs of the execution module share: serialising the verbs on a minion,
the agent's installation checked, each change (the watchdog's removal, start at boot,
the client stopped or started) made and checked, and the verb's return in words. They
use no Salt dunder: the module hands them the settings, the backend and Salt's
functions.
"""

import contextlib
import logging
import os
import time

from salt.exceptions import CommandExecutionError

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_backend, assist_files, assist_watchdog
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path
    import assist_backend
    import assist_files
    import assist_watchdog

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = logging.getLogger(__name__)


@contextlib.contextmanager
def lock(cfg, cachedir):
    """Serialise mutating calls on this minion (a lock file in ``cachedir``): two jobs must
    not interleave a stop.
    (Not salt.utils.files.flopen, which waits without a deadline, nor wait_lock, whose
    lock file outlives a killed job.)"""
    if fcntl is None:  # Windows has no flock; each verb there is one request to the service control manager
        yield
        return
    path = os.path.join(cachedir, "assist.lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise assist_files.os_error(
            "taking the lock", "open", path, exc, "The minion's cache directory must be writable. Nothing was changed."
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
        os.close(fd)  # the lock goes with it, also when the job is killed


# What to install where the agent is missing.
INSTALL = (
    "Install the Cloud Assistant agent (the package aliyun-assist on Debian and Ubuntu, aliyun_assist on "
    "RHEL, CentOS and Alibaba Cloud Linux, or Alibaba Cloud's installer), then run this again"
)


def agent(backend, need=None):
    """The agent's installation (Backend.installation). An agent half installed is
    refused, said as what it is (no verb guesses what was meant); so is a missing one
    when the verb ``need``s it (``need``: the step, in words)."""
    found = backend.installation(backend.client_pids())
    log.debug("assist: the agent's installation: %s", found)
    if found.incomplete:
        raise CommandExecutionError(
            f"the Cloud Assistant agent is half installed: {found.incomplete}. Reinstall it, or remove "
            "what is left of it (assist.status shows what is there). Nothing was changed."
        )
    if need and not found.installed:
        raise CommandExecutionError(
            f"{need} failed: the Cloud Assistant agent is not installed: {backend.missing()}. {INSTALL}. Nothing was changed."
        )
    return found


@contextlib.contextmanager
def changing(changes):
    """A failure part way through a verb also says what the verb changed before it, in
    words and, for the state module, as ``info["changes"]`` (Salt's way)."""
    try:
        yield
    except CommandExecutionError as exc:
        if not changes or (isinstance(exc.info, dict) and "changes" in exc.info):
            raise
        done = ", ".join(PHRASES[key, change["new"]][1] + " " + PHRASES[key, change["new"]][2] for key, change in changes.items())
        said = exc.error if exc.error.endswith(".") else f"{exc.error}."
        raise CommandExecutionError(f"{said} Changed before that: {done}.", info={"changes": dict(changes)}) from exc


def activity(backend, found=None, pids=None):
    """ "running" while any client process lives or the init system says it runs, else
    the init system's "stopped" or "restart pending". The processes first: reading
    /proc costs less than asking the init system. ``found``: an installation just read
    (the init system is asked only about an agent installed whole, and systemd's answer
    came with the installation's); ``pids``: the client's, just read."""
    if backend.client_pids() if pids is None else pids:
        return "running"
    if found is not None and not found.installed:
        return "stopped"
    return (found and found.activity) or backend.activity()


def running(backend):
    return activity(backend) == "running"


def daemon_step(cfg, backend, funcs, test):
    """Remove the watchdog if anything of it is left; the change, or None."""
    if not backend.has_watchdog:
        return None
    before = assist_watchdog.status(cfg)
    if not assist_watchdog.present(cfg, before):
        return None
    if test:  # a refusal is worth predicting
        assist_watchdog.check(cfg, backend.registry_dirs())
    else:
        assist_watchdog.remove(cfg, funcs, backend.registry_dirs())
    return {"old": "running" if before["running"] else "installed", "new": "absent"}


def watchdog_can_restart(cfg):
    found = assist_watchdog.status(cfg)
    return found["installed"] or found["running"]


ON_OFF = {True: "on", False: "off"}


def boot_step(backend, on, test):
    """Turn start at boot on or off if it differs, and read it again: the change as the
    system says it after, or None. A change refused part way says what is left; one
    the system does not show afterwards is an error naming what made it."""
    if backend.enabled() == on:
        return None
    if not test:
        try:
            done = backend.set_enabled(on)
        except CommandExecutionError as exc:
            said = exc.error if exc.error.endswith(".") else f"{exc.error}."
            raise CommandExecutionError(f"{said} {_boot_left(backend, not on)}") from exc
        if backend.enabled() != on:
            raise CommandExecutionError(
                f"turning start at boot {ON_OFF[on]} did not take: {done} succeeded, but {backend.name} "
                f"still says start at boot is {ON_OFF[not on]}"
            )
    return {"old": not on, "new": on}


def _boot_left(backend, was):
    """Start at boot after a failed change, in words."""
    try:
        now = backend.enabled()
    except CommandExecutionError as exc:
        return f"Start at boot could not be read again: {exc.error}"
    return f"Start at boot is {ON_OFF[now]}, " + ("as it was." if now == was else f"no longer {ON_OFF[was]}.")


def stop_client(cfg, backend, active):
    """Stop the client (with the init system's command while it says the client is
    active) and check that it stays down."""
    done = backend.control("stop") if active else "the stop"
    down = assist_watchdog.wait(lambda: not backend.client_pids(), cfg["verify_seconds"])
    if not down or backend.active() or (backend.has_watchdog and assist_watchdog.pids(cfg)):
        raise CommandExecutionError(
            f"stopping the client failed: it is still running {cfg['verify_seconds']} s "
            f"after {done} (pids {backend.client_pids()}); something restarted it or the "
            "process ignores the init system"
        )


def start_client(cfg, backend, verb, activity):
    """Start or restart the client and check that it runs. A restart the init system
    has pending is cancelled first: systemd holds a start until the restart is due
    (the vendor's unit: 120 s)."""
    if activity == "restart pending":
        backend.control("stop")
    done = backend.control(verb)
    if not assist_watchdog.wait(lambda: running(backend), cfg["verify_seconds"], 0.1):
        raise CommandExecutionError(
            f"{assist_backend.VERB_ING[verb]} the client failed: {done} succeeded but the "
            f"client is not running {cfg['verify_seconds']} s later"
        )


PHRASES = {
    ("daemon", "absent"): ("remove", "removed", "the watchdog"),
    ("client", "stopped"): ("stop", "stopped", "the client"),
    ("client", "running"): ("start", "started", "the client"),
    ("client", "restarted"): ("restart", "restarted", "the client"),
    ("enabled", True): ("turn", "turned", "start at boot on"),
    ("enabled", False): ("turn", "turned", "start at boot off"),
    ("start_type", "manual"): ("change", "changed", "the start type from Disabled to Manual (start at boot stays off)"),
}


def result(changes, settled, test, why=None):
    """The return of a mutating call: what changed (or would), said in words too;
    ``why`` says why the rest needs no change, where that is not plain."""
    if not changes:
        log.debug("assist: %s", why or f"{settled}; nothing to do")
        return {"comment": why or f"{settled}; nothing to do", "changes": {}}
    phrases = [PHRASES[key, change["new"]] for key, change in changes.items()]
    if test:
        comment = "Would " + ", ".join(f"{verb} {what}" for verb, _, what in phrases)
    else:
        comment = ", ".join(f"{done} {what}" for _, done, what in phrases)
        comment = comment[0].upper() + comment[1:]
    (log.debug if test else log.info)("assist: %s: %s", comment, changes)
    return {"comment": f"{comment}. {why}" if why else comment, "changes": changes}
