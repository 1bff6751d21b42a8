"""
The audit as Salt's mine keeps it: each minion's answer reaches the master's cache
(``salt-run assist.report source=cache`` reads it there). The answer carries its own
time, since the cache keeps none, and never raises: a mine function that raises leaves
the old answer in the cache without a word. ``pillar/assist/mine.sls`` schedules the job
``assist_mine``; after a change, the verbs ask for it at once.
"""

import datetime
import logging

log = logging.getLogger(__name__)

# The scheduled job of pillar/assist/mine.sls that sends assist.mine_audit to the mine.
JOB = "assist_mine"
UNITS = (("seconds", 1), ("minutes", 60), ("hours", 3600))


def schedule(opts, pillar):
    """The minion's scheduled jobs: its config's and its pillar's (which wins)."""
    return {**(opts.get("schedule") or {}), **(pillar.get("schedule") or {})}


def answer(audit, jobs):
    """``taken`` (ISO 8601, UTC, by this minion's clock), ``period`` (seconds between two
    runs of the job, or None) and ``audit`` (what ``audit()`` returns) or ``error`` (why
    it failed, in words)."""
    taken = datetime.datetime.now(datetime.timezone.utc).isoformat()
    job = jobs.get(JOB) or {}
    period = sum(job.get(unit, 0) * seconds for unit, seconds in UNITS)
    try:
        found = {"audit": audit()}
    except Exception as exc:  # pylint: disable=broad-except  # returned as data, not raised
        found = {"error": str(exc) or type(exc).__name__}
    return {"taken": taken, "period": period or None, **found}


def refresh(funcs, opts, jobs):
    """After a change: ask the minion's scheduler to run the job now, in a process of its
    own (an event; the verb does not wait). Only with the job scheduled, and not from
    salt-call or salt-ssh, where no minion may be running to hear the event."""
    if opts.get("__cli") == "salt-call" or JOB not in jobs:
        return
    try:
        funcs["event.fire"]({"func": "run_job", "name": JOB}, "manage_schedule")
    except Exception as exc:  # pylint: disable=broad-except  # the change is made; the mine waits for its period
        log.warning("assist: cannot ask for a fresh mine answer: %s", exc)
