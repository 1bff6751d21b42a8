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

import logging

import salt.utils.platform
from salt.exceptions import CommandExecutionError

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_release
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path while loading
    try:
        import assist_release
    except ImportError:  # Salt shows these words for the module ("__virtual__ returned False")
        raise ImportError("assist: the _utils folder (assist_release.py, ...) is missing; run saltutil.sync_all") from None

__virtualname__ = "assist"
__version__ = "0.3.0"  # this release; its helpers must be of the same one

# This release's helpers from their files, never the copies an earlier release left in
# memory (assist_release says why).
assist_init, assist_mine, assist_policy, assist_settings, assist_steps, assist_watchdog = assist_release.load(
    __version__, "assist_init", "assist_mine", "assist_policy", "assist_settings", "assist_steps", "assist_watchdog"
)

# Debug: each decision (the init system and its evidence, what a verb found); info: each
# change made. `salt-call -l debug assist.stop` shows the walk to the commands it runs.
log = logging.getLogger(__name__)


def __virtual__():
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


def _result(changes, settled, test, why=None):
    """The verb's return (assist_steps.result); after a change, a fresh mine answer."""
    if changes and not test:
        assist_mine.refresh(__salt__, __opts__, assist_mine.schedule(__opts__, __pillar__))
    return assist_steps.result(changes, settled, test, why)


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
    Return the versions on this minion: ``agent``, the installed agent's (``None`` when
    it is not installed), and ``extension``, the release of assist-salt the minion runs
    (its module and helpers are always of one release).

    The agent's is read from ``/usr/local/share/aliyun-assist/version`` (Windows: the
    newest version folder under ``C:\\ProgramData\\aliyun\\assist``); no command is run.

    CLI Example:

    .. code-block:: bash

        salt '*' assist.version
    """
    return {"agent": _backend(act=False)[1].version(), "extension": __version__}


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
    activity = assist_steps.activity(backend, found, pids)
    return {
        "init": {"system": backend.name, "evidence": backend.evidence},
        "client": {
            "service": backend.service(),
            "service_evidence": backend.service_evidence(),
            "installed": found.installed,
            "incomplete": found.incomplete,
            "running": activity == "running",
            "restart_pending": activity == "restart pending",
            # A unit, job or script says; without one nothing starts at boot.
            "enabled": backend.enabled() if found.registered else False,
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
    return assist_steps.activity(backend, backend.installation(pids), pids) == "running"


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
    return assist_policy.check(__pillar__.get("assist") if given is None else given)


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
    agent = assist_policy.agent_facts(facts, watchdog=backend.has_watchdog)
    drift = assist_policy.drift(
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
    found = assist_mine.answer(audit, assist_mine.schedule(__opts__, __pillar__))
    __context__.pop("retcode", None)  # a drift is an answer here, not a failure
    return found


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
    with assist_steps.lock(cfg, __opts__["cachedir"]):
        if change := assist_steps.daemon_step(cfg, backend, __salt__, test):
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
    found = assist_steps.agent(backend)
    changes = {}
    with assist_steps.lock(cfg, __opts__["cachedir"]), assist_steps.changing(changes):
        if not found.installed:  # nothing to stop; a watchdog left without its client still goes
            if remove_daemon and (change := assist_steps.daemon_step(cfg, backend, __salt__, test)):
                changes["daemon"] = change
            why = f"The agent is not installed ({backend.missing()}): no client to stop"
            return _result(changes, "", test, why=why)
        if not remove_daemon and backend.has_watchdog and assist_steps.watchdog_can_restart(cfg):
            raise CommandExecutionError(
                f"the watchdog {cfg['daemon_path']} is installed and would restart the client; call "
                "assist.stop with remove_daemon=True (the default) or assist.remove_daemon first (in a "
                "state tree: an assist.daemon_absent state, required by the assist.dead state, which "
                "gets remove_daemon: True, as salt/assist/init.sls does). Nothing was changed."
            )
        # Start at boot first: a refusal there (a read-only /etc) leaves everything else as it was.
        if disable and (change := assist_steps.boot_step(backend, False, test)):
            changes["enabled"] = change
        if remove_daemon and (change := assist_steps.daemon_step(cfg, backend, __salt__, test)):
            changes["daemon"] = change
        # The init system's own answer; the installation's holds unless the watchdog's removal took time.
        activity = ("daemon" not in changes and found.activity) or backend.activity()
        pids = backend.client_pids()
        active = activity == "running"
        # Down, but due to be started again: the init system's stop cancels that.
        pending = activity == "restart pending" and not pids
        if active or pids or pending:
            if pending and backend.pending_stop_turns_boot_off and backend.enabled():
                changes["enabled"] = {"old": True, "new": False}
            if not test:
                assist_steps.stop_client(cfg, backend, active or pending)
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
    found = assist_steps.agent(backend, need="starting the client")
    changes = {}
    with assist_steps.lock(cfg, __opts__["cachedir"]), assist_steps.changing(changes):
        if enable and (change := assist_steps.boot_step(backend, True, test)):
            changes["enabled"] = change
        activity = assist_steps.activity(backend, found)
        if activity != "running":
            if change := backend.allow_start(test):
                changes["start_type"] = change
            if not test:
                assist_steps.start_client(cfg, backend, "start", activity)
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
    found = assist_steps.agent(backend, need="restarting the client")
    changes = {}
    with assist_steps.lock(cfg, __opts__["cachedir"]), assist_steps.changing(changes):
        activity = assist_steps.activity(backend, found)
        was = "running" if activity == "running" else "stopped"
        if change := backend.allow_start(test):
            changes["start_type"] = change
        if not test:  # a stopped job has nothing to restart (UpStart: "Unknown instance")
            assist_steps.start_client(cfg, backend, "restart" if was == "running" else "start", activity)
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
    if not assist_steps.agent(backend, need="turning start at boot on" if on else None).installed:
        return _result({}, "", test, why=f"The agent is not installed ({backend.missing()}): nothing starts at boot")
    changes = {}
    with assist_steps.lock(cfg, __opts__["cachedir"]):
        if change := assist_steps.boot_step(backend, on, test):
            changes["enabled"] = change
    return _result(changes, f"Start at boot is {assist_steps.ON_OFF[on]}", test)
