"""
Beacon ``assist``: an event when this minion's Cloud Assistant agent drifts from its
policy, for the reactor ``salt/assist/reactor/drift.sls`` to put it back.

Minion config:

.. code-block:: yaml

    beacons:
      assist:
        - interval: 60       # seconds between two audits
        - reminder: 300      # while a drift lasts, say it again this often (0: never)

Each run calls ``assist.audit`` (what ``assist.status`` asks, no more) and fires
``salt/beacon/<minion>/assist/<what>`` only when the answer changed since the last
event:

``drift``
    the agent differs from its policy, or differs otherwise than before; data:
    ``drift`` (the differences in words), ``policy``, ``agent``, ``reminder`` (true
    when nothing changed and this is the reminder)
``compliant``
    the drift is over (no event when the agent follows its policy from the start)
``error``
    the audit failed (a bad pillar or setting, no assist module); data: ``error``,
    ``reminder``. A minion without the agent is no error: its audit meets a ``client:
    dead`` policy, and drifts from ``client: running``

The last event is kept in the minion's cache directory, so a reload of the beacons or
a restart of the minion does not say it again. Nothing is audited while a state job
runs on the minion (as Salt's ``disable_during_state_run`` does, always on here: the
run may be the one putting the agent back), nor while grain ``assist_paused`` is
true: ``salt web-1 grains.setval assist_paused true`` pauses enforcement on web-1,
``salt web-1 grains.delkey assist_paused`` resumes it (a drift found then is
reported at once).
"""

import contextlib
import json
import logging
import os
import time

import salt.utils.beacons

log = logging.getLogger(__name__)

__virtualname__ = "assist"
# What Salt's loader serves; the other public names are parts its tests use.
__all__ = ["validate", "beacon"]

PAUSE_GRAIN = "assist_paused"
# While a drift lasts, the seconds between two reminders: a lost event (a master restarting,
# a dropped connection) is said again within this, and the reactor tries again.
REMINDER = 300
# Keys Salt's beacon machinery reads (or adds) itself.
SALT_KEYS = ("interval", "disable_during_state_run", "enabled", "run_once", "beacon_module", "_beacon_name")


def __virtual__():
    return __virtualname__


def validate(config):
    """The beacon's configuration: a list of one-key mappings, with ``reminder``
    (seconds, 0 for none) besides Salt's own keys."""
    if not isinstance(config, list) or not all(isinstance(item, dict) for item in config):
        return False, "beacon assist: the configuration must be a list of mappings, such as [{interval: 60}]"
    merged = salt.utils.beacons.list_to_dict(config)
    unknown = sorted(map(str, set(merged) - set(SALT_KEYS) - {"reminder"}))
    if unknown:
        return False, (
            f"beacon assist: unknown key(s) {', '.join(unknown)}; known keys are reminder and Salt's {', '.join(SALT_KEYS[:4])}"
        )
    interval = merged.get("interval", 1)
    if not _seconds(interval) or interval <= 0:
        return False, f"beacon assist: interval is {interval!r}; give a positive number of seconds"
    reminder = merged.get("reminder", REMINDER)
    if not _seconds(reminder) or reminder < 0:
        return False, f"beacon assist: reminder is {reminder!r}; give seconds, 0 for no reminder"
    return True, "Valid beacon configuration"


def _seconds(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def beacon(config):
    """Audit the agent; an event when the answer changed (see the module's doc)."""
    merged = salt.utils.beacons.list_to_dict(config)
    memory = _Memory(__opts__, merged.get("_beacon_name", __virtualname__))
    if paused(__grains__):
        memory.forget()
        return []
    # Salt's disable_during_state_run, always on: it is opt-in, and a beacon left without
    # it would report the drift the running state puts back, and its reactor run again.
    if __salt__["saltutil.is_running"]("state.*"):
        return []
    seen, data = _audit()
    now = time.time()
    event, remembered = decide(memory.load(), seen, now, merged.get("reminder", REMINDER))
    if remembered is not None:
        memory.save(remembered)
    if event is None:
        return []
    log.debug("beacon assist: %s %s", event, seen[1:])
    data["tag"] = event
    if event != "compliant":
        data["reminder"] = remembered.get("reminder", False)
    return [data]


def paused(grains):
    """Grain assist_paused is true (set from the CLI, YAML gives True; a string
    "true" counts too)."""
    return str(grains.get(PAUSE_GRAIN)).lower() == "true"


def _audit():
    """What the audit found, as something to compare with the last event (a list
    that JSON keeps) and the event's data."""
    try:
        found = __salt__["assist.audit"]()
    except KeyError:
        message = "assist.audit is not available; run saltutil.sync_all"
        return ["error", message], {"error": message}
    except Exception as exc:  # pylint: disable=broad-except
        return ["error", str(exc)], {"error": str(exc)}
    if found["drift"]:
        return ["drift", *found["drift"]], {"drift": found["drift"], "policy": found["policy"], "agent": found["agent"]}
    return ["compliant"], {"policy": found["policy"], "agent": found["agent"]}


def decide(last, seen, now, reminder):
    """Whether to fire: (the event's name or None, what to remember or None).

    ``last`` is what was remembered ({"seen", "at"}) or None; ``seen`` what the audit
    found now (["drift", reasons...], ["error", message] or ["compliant"]). One event
    per change; while a drift or an error lasts, one more every ``reminder`` seconds."""
    kind = seen[0]
    if last is None:
        if kind == "compliant":
            return None, {"seen": seen, "at": now}
        return kind, {"seen": seen, "at": now}
    if last["seen"] != seen:
        return kind, {"seen": seen, "at": now}
    if kind != "compliant" and reminder and now - last["at"] >= reminder:
        return kind, {"seen": seen, "at": now, "reminder": True}
    return None, None


class _Memory:
    """The last event, in a file of the minion's cache directory (a reload of the
    beacons resets the module's globals)."""

    def __init__(self, opts, name):
        self.path = os.path.join(opts["cachedir"], f"{name}.beacon.json")

    def load(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                found = json.load(handle)
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) and {"seen", "at"} <= set(found) else None

    def save(self, remembered):
        # Not salt.utils.atomicfile.atomic_open: on a full disk it leaves its temporary
        # file behind, one more each interval; this one is taken back.
        tmp = f"{self.path}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(remembered, handle)
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):  # written in part when the disk is full
                os.unlink(tmp)
            log.warning(
                "beacon assist: cannot remember the last event in %s: %s; until it can, each audit that "
                "finds a drift says it again. Make the minion's cache directory writable.",
                self.path,
                exc.strerror or exc,
            )

    def forget(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning(
                "beacon assist: cannot forget the last event in %s: %s; after the pause, a drift already "
                "said is not said again. Make the minion's cache directory writable.",
                self.path,
                exc.strerror or exc,
            )
