"""
Keep Alibaba Cloud's Cloud Assistant agent in the wanted state.

The work is done by the ``assist`` execution module; these states decide and report.
The watchdog must be gone before the client can stay stopped, so say the order with a
requisite:

.. code-block:: yaml

    assist-daemon-absent:
      assist.daemon_absent

    assist-client-dead:
      assist.dead:
        - enable: False
        - remove_daemon: True
        - require:
          - assist: assist-daemon-absent

    # or keep it running, restarted when its configuration changes:
    assist-client-running:
      assist.running:
        - enable: True
        - watch:
          - file: /usr/local/share/aliyun-assist/config/aliyun-assist.conf
"""

import logging

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "assist"


def __virtual__():
    if "assist.status" in __salt__:
        return __virtualname__
    return (False, "assist: the assist execution module is not available")


def _call(name, *calls):
    """Run execution functions in turn (each a (function, kwargs) pair) and report.

    In test mode each is asked what it would change; ``result`` is then None when
    anything would.
    """
    test = bool(__opts__["test"])
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    comments = []
    try:
        for function, kwargs in calls:
            log.debug("assist state %s: %s(test=%s, %s)", name, function, test, kwargs)
            out = __salt__[function](test=test, **kwargs)
            ret["changes"].update(out["changes"])
            comments.append(out["comment"])
            if out.get("warning"):
                comments.append(out["warning"])
    except CommandExecutionError as exc:
        ret["result"] = False
        # What the call changed before it failed comes as info (Salt's way), not in the words.
        if isinstance(exc.info, dict):
            ret["changes"].update(exc.info.get("changes") or {})
        comments.append(exc.error)
    ret["comment"] = "\n".join(comments)
    if test and ret["result"] and ret["changes"]:
        ret["result"] = None
    return ret


def _boot(enable):
    """The execution call that sets start at boot, if the state asks for it. It goes
    first: a refusal there (a read-only /etc) leaves the client as it was."""
    if enable is None:
        return []
    return [("assist.enable" if enable else "assist.disable", {})]


def daemon_absent(name):
    """
    The watchdog is removed: ``assist_daemon --stop``, ``--delete``, its directory.
    Nothing to do when it is absent (and always on Windows, which has none).
    """
    return _call(name, ("assist.remove_daemon", {}))


def running(name, enable=None):
    """
    The client runs. Fails where the agent is not installed, saying what to install.

    enable
        True or False to turn start at boot on or off; None leaves it as it is.
    """
    return _call(name, *_boot(enable), ("assist.start", {}))


def dead(name, enable=None, remove_daemon=False):
    """
    The client is stopped. The watchdog must go first, or it restarts the client: require
    an ``assist.daemon_absent`` state and give ``remove_daemon: True``, as
    ``salt/assist/init.sls`` does. Without it, a dead state that meets a watchdog fails
    and changes nothing (``assist.stop`` refuses it). Where the agent is not installed it is met: no changes, and the
    comment says so.

    enable
        True or False to turn start at boot on or off; None leaves it as it is.

    remove_daemon
        True: a watchdog still there when this state runs is removed first, as
        ``assist.stop`` does. In a run the required ``assist.daemon_absent`` has removed
        it already; in test mode it has not, so this state's prediction names the
        removal too.
    """
    # assist.stop turns start at boot off first and refuses a watchdog left behind.
    calls = [("assist.stop", {"remove_daemon": remove_daemon, "disable": enable is False})]
    return _call(name, *calls, *([("assist.enable", {})] if enable else []))


def mod_watch(name, sfun=None, **kwargs):
    """
    What a watched state does when what it watches changes, as Salt's ``service`` state:
    ``assist.running`` restarts the client, ``assist.dead`` stops it (again).
    """
    if sfun == "running":
        return _call(name, ("assist.restart", {}))
    if sfun == "dead":
        return dead(name, enable=kwargs.get("enable"), remove_daemon=kwargs.get("remove_daemon", False))
    return {
        "name": name,
        "result": False,
        "changes": {},
        "comment": f"assist.{sfun} does not support watch; use it with assist.running or assist.dead",
    }
