"""
Stop, start and audit Alibaba Cloud's Cloud Assistant agent.

The agent is a service (``aliyun.service`` on systemd, the job ``aliyun-service`` on
UpStart, ``/etc/init.d/aliyun-service`` on sysvinit, ``AliyunService`` on Windows). On
Linux a watchdog, ``/usr/local/share/assist-daemon/assist_daemon``, restarts it when it
dies, so it is removed first (``--stop``, ``--delete``, its directory). Each verb here is
a short walk: settings, the init system's backend, the watchdog, the result.

Settings: ``assist:lookup`` in the minion config, grains or pillar, merged key by key
(every key and default: ``pillar.example``). Policy: pillar ``assist`` (``client``,
``daemon``, ``enable``), checked by ``assist.policy``.
"""

import contextlib
import datetime
import logging
import os
import time

import salt.utils.platform
from salt.exceptions import CommandExecutionError

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_init, assist_settings, assist_watchdog
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path while loading
    try:
        import assist_init
        import assist_settings
        import assist_watchdog
    except ImportError:
        assist_init = None

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__virtualname__ = "assist"

# Debug: each decision (the init system and its evidence, what a verb found); info: each
# change made. `salt-call -l debug assist.stop` shows the walk to the commands it runs.
log = logging.getLogger(__name__)


def __virtual__():
    if assist_init is None:
        return (False, "assist: the _utils folder (assist_init.py, ...) is missing; run saltutil.sync_all")
    if salt.utils.platform.is_linux() or salt.utils.platform.is_windows():
        return __virtualname__
    return (False, "assist: the Cloud Assistant agent exists on Linux and Windows only")


def _settings():
    return assist_settings.load(assist_settings.lookup(__opts__, __grains__, __pillar__))


def _backend(act=True):
    """The settings and the backend of this minion's init system, ready to act."""
    cfg = _settings()
    backend = assist_init.backend(cfg, __salt__, __context__)
    log.debug("assist: init system %s (%s)", backend.name, backend.evidence)
    if act:
        backend.check_ready()
    return cfg, backend


@contextlib.contextmanager
def _lock(cfg):
    """Serialise mutating calls on this minion: two jobs must not interleave a stop.
    (Not salt.utils.files.flopen, which waits without a deadline, nor wait_lock, whose
    lock file outlives a killed job.)"""
    if fcntl is None:  # Windows: the service control manager serialises for us
        yield
        return
    path = os.path.join(__opts__["cachedir"], "assist.lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise assist_init.os_error(
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


def _agent(backend, need=None):
    """The agent's installation (Backend.installation). An agent half installed is
    refused, said as what it is (no verb guesses what was meant); so is a missing one
    when the verb ``need``s it (``need``: the step, in words)."""
    found = backend.installation(backend.client_pids())
    log.debug("assist: the agent's installation: %s", found)
    if found["incomplete"]:
        raise CommandExecutionError(
            f"the Cloud Assistant agent is half installed: {found['incomplete']}. Reinstall it, or remove "
            "what is left of it (assist.status shows what is there). Nothing was changed."
        )
    if need and not found["installed"]:
        raise CommandExecutionError(
            f"{need} failed: the Cloud Assistant agent is not installed: {backend.missing()}. {INSTALL}. Nothing was changed."
        )
    return found


@contextlib.contextmanager
def _changing(changes):
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


def _activity(backend, found=None, pids=None):
    """ "running" while any client process lives or the init system says it runs, else
    the init system's "stopped" or "restart pending". The processes first: reading
    /proc costs less than asking the init system. ``found``: an installation just read
    (the init system is asked only about an agent installed whole, and systemd's answer
    came with the installation's); ``pids``: the client's, just read."""
    if backend.client_pids() if pids is None else pids:
        return "running"
    if found is not None and not found["installed"]:
        return "stopped"
    return (found or {}).get("activity") or backend.activity()


def _running(backend):
    return _activity(backend) == "running"


def _daemon_step(cfg, backend, test):
    """Remove the watchdog if anything of it is left; the change, or None."""
    if not backend.has_watchdog:
        return None
    before = assist_watchdog.status(cfg)
    if not assist_watchdog.present(cfg, before):
        return None
    if test:  # a refusal is worth predicting
        assist_watchdog.check(cfg, backend.registry_dirs())
    else:
        assist_watchdog.remove(cfg, __salt__, backend.registry_dirs())
    return {"old": "running" if before["running"] else "installed", "new": "absent"}


def _watchdog_can_restart(cfg):
    found = assist_watchdog.status(cfg)
    return found["installed"] or found["running"]


ON_OFF = {True: "on", False: "off"}


def _boot_step(backend, on, test):
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


def _stop_client(cfg, backend, active):
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


def _start_client(cfg, backend, verb, activity):
    """Start or restart the client and check that it runs. A restart the init system
    has pending is cancelled first: systemd holds a start until the restart is due
    (the vendor's unit: 120 s)."""
    if activity == "restart pending":
        backend.control("stop")
    done = backend.control(verb)
    if not assist_watchdog.wait(lambda: _running(backend), cfg["verify_seconds"], 0.1):
        raise CommandExecutionError(
            f"{assist_init.VERB_ING[verb]} the client failed: {done} succeeded but the "
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


def _result(changes, settled, test, why=None):
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
    if not test:
        _refresh_mine()
    return {"comment": f"{comment}. {why}" if why else comment, "changes": changes}


# The scheduled job of pillar/assist/mine.sls that sends assist.mine_audit to the mine.
MINE_JOB = "assist_mine"


def _refresh_mine():
    """After a change: ask the minion's scheduler to run the mine job now, in its own
    process (an event; the verb does not wait). Only with the job scheduled, and not
    from salt-call (nor salt-ssh, which runs it): no minion may run there to hear it."""
    if __opts__.get("__cli") == "salt-call" or MINE_JOB not in _schedule():
        return
    try:
        __salt__["event.fire"]({"func": "run_job", "name": MINE_JOB}, "manage_schedule")
    except Exception as exc:  # pylint: disable=broad-except  # the change is made; the mine waits for its period
        log.warning("assist: cannot ask for a fresh mine answer: %s", exc)


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
    return _backend(act=False)[1].name


def version():
    """
    Return the installed agent's version, or ``None`` when it is not installed.

    Read from ``/usr/local/share/aliyun-assist/version`` (Windows: the newest version
    folder under ``C:\\ProgramData\\aliyun\\assist``); no command is run.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.version
    """
    return _backend(act=False)[1].version()


def daemon_status():
    """
    Report the watchdog: whether its binary is installed, whether it runs, its pids and
    path. Windows has no watchdog.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.daemon_status
    """
    return _watchdog_status(*_backend(act=False))


def _watchdog_status(cfg, backend):
    if not backend.has_watchdog:
        return {"installed": False, "running": False, "pids": [], "path": None}
    return assist_watchdog.status(cfg)


def status():
    """
    Report everything about the agent on this minion in one dictionary: the init
    system and the evidence for it; the client (service, installed, incomplete,
    running, restart pending, enabled at boot, version, pids); the watchdog
    (installed, running, pids, path).

    ``installed`` is true when the client's unit, job or script is there and the
    client program it runs. A minion without the agent (neither) says ``installed:
    false`` and is not running; this is no error. ``incomplete`` says in words, with
    the paths, what is there of an agent half installed (a unit whose program is
    missing, a program without its unit); otherwise it is None.

    ``running`` is true while the init system says so or any client process lives.
    ``restart_pending`` is true while the client is down but its init system will start
    it again by itself (systemd after a crash: the vendor's unit waits 120 s).

    CLI Example:

    .. code-block:: bash

        salt '*' assist.status
        salt '*' assist.status --out=json
    """
    return _status(*_backend())


def _status(cfg, backend):
    pids = backend.client_pids()
    found = backend.installation(pids)
    activity = _activity(backend, found, pids)
    return {
        "init": {"system": backend.name, "evidence": backend.evidence},
        "client": {
            "service": backend.service(),
            "service_evidence": backend.service_evidence(),
            "installed": found["installed"],
            "incomplete": found["incomplete"],
            "running": activity == "running",
            "restart_pending": activity == "restart pending",
            # A unit, job or script says; without one nothing starts at boot.
            "enabled": backend.enabled() if found["registered"] else False,
            "version": backend.version(),
            "pids": pids,
        },
        "daemon": _watchdog_status(cfg, backend),
    }


def is_running():
    """
    Return ``True`` when the Cloud Assistant client runs, for quick fleet checks.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.is_running
    """
    backend = _backend()[1]
    pids = backend.client_pids()
    return _activity(backend, backend.installation(pids), pids) == "running"


def policy(given=None):
    """
    Return the policy this minion should have: pillar ``assist`` (``client``: running
    or dead, ``daemon``: present or absent, ``enable``: true, false or None) over the
    defaults (running, present, None), checked. A bad value raises an error that names
    the pillar key. The state tree renders from it.

    given
        The ``assist`` mapping to check instead of this minion's pillar.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.policy
    """
    return assist_settings.policy(__pillar__.get("assist") if given is None else given)


def audit():
    """
    Compare the agent with the policy this minion should have. Returns the policy
    (pillar ``assist``, checked as ``assist.policy`` does), what the agent has (the
    facts ``assist.status`` gathers: client running, dead, restart pending (down,
    but its init system will start it again by itself), not installed or half
    installed, watchdog present or absent, start at boot, version, init system) and
    ``drift``, the differences in words. An agent not installed meets a ``client:
    dead`` policy and drifts from ``client: running``; one half installed drifts from
    both, with what is there and what is missing. ``result`` is False when anything
    differs, and the call then exits non-zero. ``enable: null`` in the policy leaves
    start at boot unjudged; Windows has no watchdog to judge. Nothing is changed; no
    command is run beyond those ``assist.status`` runs. A bad policy raises the error that names the pillar key.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.audit
        salt-run assist.report
    """
    wanted = policy()
    cfg, backend = _backend()
    facts = _status(cfg, backend)
    agent = {
        "client": _client_fact(facts["client"]),
        "daemon": "present" if facts["daemon"]["installed"] or facts["daemon"]["running"] else "absent",
        "enable": facts["client"]["enabled"],
        "version": facts["client"]["version"],
        "init_system": facts["init"]["system"],
    }
    drift = _drift(
        wanted,
        agent,
        watchdog=backend.has_watchdog,
        watchdog_running=facts["daemon"]["running"],
        incomplete=facts["client"]["incomplete"],
    )
    __context__["retcode"] = 1 if drift else 0
    return {
        "result": not drift,
        "comment": "; ".join(drift) if drift else "The agent follows its policy",
        "policy": wanted,
        "agent": agent,
        "drift": drift,
    }


def _schedule():
    """The minion's scheduled jobs: its config's and its pillar's (which wins)."""
    return {**(__opts__.get("schedule") or {}), **(__pillar__.get("schedule") or {})}


def mine_audit():
    """
    ``assist.audit`` for Salt's mine (``pillar/assist/mine.sls``): ``taken`` (when,
    ISO 8601 in UTC, by this minion's clock), ``period`` (seconds between two runs of
    the scheduled job ``assist_mine``, or null) and ``audit``, or ``error`` (what
    failed, in words: a mine function that raises leaves the old answer in the cache).
    Read on the master by ``salt-run assist.report source=cache``. Never raises.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.mine_audit
        salt '*' mine.send assist.mine_audit
        salt-run mine.get '*' assist.mine_audit
    """
    taken = datetime.datetime.now(datetime.timezone.utc).isoformat()
    job = _schedule().get(MINE_JOB) or {}
    period = sum(job.get(unit, 0) * seconds for unit, seconds in (("seconds", 1), ("minutes", 60), ("hours", 3600)))
    try:
        found = {"audit": audit()}
    except Exception as exc:  # pylint: disable=broad-except  # returned as data, not raised
        found = {"error": str(exc) or type(exc).__name__}
    __context__.pop("retcode", None)  # a drift is an answer here, not a failure
    return {"taken": taken, "period": period or None, **found}


# The audit's client fact from status's (running, restart_pending). Down but due to be
# restarted by its init system is neither: a dead policy is not met (it runs again when
# the restart is due), nor a running one (nothing runs until then).
CLIENT_FACT = {(True, False): "running", (False, False): "dead", (False, True): "restart pending"}


def _client_fact(client):
    """The audit's client fact from status's client. Not installed meets a dead policy
    (nothing can run); half installed meets none (no verb acts on it: a person must)."""
    if client["incomplete"]:
        return "half installed"
    if not client["installed"]:
        return "not installed"
    return CLIENT_FACT[client["running"], client["restart_pending"]]


def _drift(wanted, agent, watchdog=True, watchdog_running=False, incomplete=None):
    """The differences between a checked policy and the agent's facts, in words."""
    drift = []
    if agent["client"] == "half installed":
        drift.append(f"the agent is half installed: {incomplete}")
    elif agent["client"] == "not installed":
        if wanted["client"] == "running":
            drift.append("the agent is not installed, policy says running")
    elif agent["client"] != wanted["client"]:
        if agent["client"] == "running":
            drift.append("client is running, policy says dead")
        elif agent["client"] == "restart pending":
            drift.append(f"client is down and its init system will restart it, policy says {wanted['client']}")
        else:
            drift.append("client is stopped, policy says running")
    if watchdog and agent["daemon"] != wanted["daemon"]:
        if agent["daemon"] == "present":
            said = "running" if watchdog_running else "installed"
            drift.append(f"watchdog is {said}, policy says absent")
        else:
            drift.append("watchdog is absent, policy says present")
    if wanted["enable"] is not None and agent["enable"] != wanted["enable"]:
        words = {True: "on", False: "off"}
        drift.append(f"start at boot is {words[agent['enable']]}, policy says {words[wanted['enable']]}")
    return drift


def remove_daemon(test=False):
    """
    Remove the watchdog as the vendor says: ``assist_daemon --stop``, then
    ``assist_daemon --delete``, then remove its directory; then check that no watchdog
    process is left. Only the watchdog's own directory is ever removed, and a removal
    that was cut short is finished. The client is not touched. Returns the changes,
    empty when there was no watchdog.

    test : False
        Report what would change, and change nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.remove_daemon
        salt '*' assist.remove_daemon test=True
    """
    cfg, backend = _backend(act=False)
    changes = {}
    with _lock(cfg):
        if change := _daemon_step(cfg, backend, test):
            changes["daemon"] = change
    return _result(changes, "The watchdog is absent", test)


def stop(remove_daemon=True, disable=False, test=False):
    """
    Stop the Cloud Assistant client and keep it stopped.

    On Linux the watchdog is removed first (``assist_daemon --stop``, ``--delete``,
    then its directory), then the client is stopped with the init system's own
    command, then the module checks that the client is down and no watchdog is left.
    Already stopped is success with no changes. A stop that was cut short (job killed,
    minion restarted) is finished by the next one. On a minion without the agent there
    is no client to stop: success with no changes, and a watchdog left without its
    client is still removed. An agent half installed is refused, said as what it is.

    remove_daemon : True
        With ``False`` and a watchdog present, refuse: it would restart the client.

    disable : False
        Also turn off start at boot (first: a refusal there changes nothing else).

    test : False
        Report what would change, and change nothing.

    On Windows ``AliyunService`` is stopped; the return carries the vendor's warning.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.stop
        salt '*' assist.stop disable=True
        salt '*' assist.stop test=True
    """
    cfg, backend = _backend()
    found = _agent(backend)
    changes = {}
    with _lock(cfg), _changing(changes):
        if not found["installed"]:  # nothing to stop; a watchdog left without its client still goes
            if remove_daemon and (change := _daemon_step(cfg, backend, test)):
                changes["daemon"] = change
            return _result(changes, "", test, why=f"The agent is not installed ({backend.missing()}): no client to stop")
        # Start at boot first: a refusal there (a read-only /etc) leaves everything else as it was.
        if disable and (change := _boot_step(backend, False, test)):
            changes["enabled"] = change
        if remove_daemon:
            if change := _daemon_step(cfg, backend, test):
                changes["daemon"] = change
        elif backend.has_watchdog and _watchdog_can_restart(cfg):
            raise CommandExecutionError(
                f"the watchdog {cfg['daemon_path']} is installed and would restart "
                "the client; call assist.stop with remove_daemon=True (the default) "
                "or assist.remove_daemon first. Nothing was changed."
            )
        # The init system's own answer; the installation's holds unless the watchdog's removal took time.
        activity = ("daemon" not in changes and found.get("activity")) or backend.activity()
        pids = backend.client_pids()
        active = activity == "running"
        # Down, but due to be started again: the init system's stop cancels that.
        pending = activity == "restart pending" and not pids
        if active or pids or pending:
            if not test:
                _stop_client(cfg, backend, active or pending)
            changes["client"] = {"old": "restart pending" if pending else "running", "new": "stopped"}
    ret = _result(changes, "The client is stopped", test)
    if backend.stop_warning:
        ret["warning"] = backend.stop_warning
    return ret


def start(enable=False, test=False):
    """
    Start the Cloud Assistant client with the init system's own command, and check
    that it runs. Already running is success with no changes. The watchdog is not
    reinstalled (reinstall the agent's package for that). Where the agent is not
    installed, or half installed, the error says what is missing and what to install.

    On Windows a service whose start type is Disabled cannot start: it is set to Manual
    first (start at boot stays off), and the changes say so (``start_type``).

    enable : False
        Also turn on start at boot.

    test : False
        Report what would change, and change nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.start
        salt '*' assist.start enable=True
    """
    cfg, backend = _backend()
    found = _agent(backend, need="starting the client")
    changes = {}
    with _lock(cfg), _changing(changes):
        if enable and (change := _boot_step(backend, True, test)):
            changes["enabled"] = change
        activity = _activity(backend, found)
        if activity != "running":
            if change := backend.allow_start(test):
                changes["start_type"] = change
            if not test:
                _start_client(cfg, backend, "start", activity)
            changes["client"] = {"old": "stopped", "new": "running"}
    return _result(changes, "The client is running", test)


def restart(test=False):
    """
    Restart the Cloud Assistant client with the init system's own command, and check
    that it runs. A stopped client is started (on Windows, a Disabled service is set to
    Manual first, as ``start`` does). Where the agent is not installed, or half
    installed, the error says what is missing.

    test : False
        Report what would change, and change nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.restart
    """
    cfg, backend = _backend()
    found = _agent(backend, need="restarting the client")
    changes = {}
    with _lock(cfg), _changing(changes):
        activity = _activity(backend, found)
        was = "running" if activity == "running" else "stopped"
        if change := backend.allow_start(test):
            changes["start_type"] = change
        if not test:  # a stopped job has nothing to restart (UpStart: "Unknown instance")
            _start_client(cfg, backend, "restart" if was == "running" else "start", activity)
        changes["client"] = {"old": was, "new": "restarted"}
    return _result(changes, "", test)


def enable(test=False):
    """
    Turn on start at boot for the client: ``systemctl enable``; ``update-rc.d`` or
    ``chkconfig`` (S links in ``/etc/rc[2-5].d``) on sysvinit; on UpStart no ``manual``
    in the job's ``.override`` (1.3 and later) or its ``start on`` stanza restored
    (older releases); on Windows the start type Automatic. Start at boot is read again
    afterwards; a change that does not show is an error naming the command. Where the
    agent is not installed the error says what to install.

    test : False
        Report what would change, and change nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.enable
    """
    return _toggle_boot(True, test)


def disable(test=False):
    """
    Turn off start at boot for the client: ``systemctl disable``; ``update-rc.d`` or
    ``chkconfig`` (K links instead of S links) on sysvinit; on UpStart ``manual`` in the
    job's ``.override`` (1.3 and later) or its ``start on`` stanza commented out (older
    releases, which have no override files); on Windows the start type Manual, not
    Disabled: a Disabled service cannot be started by anyone, the vendor's own tools
    included, and the vendor warns that without a running AliyunService the instance
    may not be stoppable from the ECS console (a service already Disabled counts as
    off and is left so). The running client is not stopped. Start at boot is read
    again afterwards; a change that does not show is an error naming the command. On a
    minion without the agent nothing starts at boot: success with no changes. A change
    refused part way (a read-only or full file system) is undone; the error says so.

    test : False
        Report what would change, and change nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.disable
    """
    return _toggle_boot(False, test)


def _toggle_boot(on, test):
    cfg, backend = _backend()
    if not _agent(backend, need="turning start at boot on" if on else None)["installed"]:
        return _result({}, "", test, why=f"The agent is not installed ({backend.missing()}): nothing starts at boot")
    changes = {}
    with _lock(cfg):
        if change := _boot_step(backend, on, test):
            changes["enabled"] = change
    return _result(changes, f"Start at boot is {ON_OFF[on]}", test)
