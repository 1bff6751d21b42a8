"""
The fleet's Cloud Assistant agents, seen and steered from the master.

``report``
    one ``assist.audit`` over a target, counted: who follows its policy, who drifts
    and why, who failed, who did not answer. With ``source=cache``, the same counts
    from each minion's last audit in the mine (the master's cache), publishing nothing.
``plan``
    the steps of a rollout (canary, then waves), for ``salt/assist/orch/rollout.sls``.
``enforce``
    the reactor's one action (``salt/assist/reactor/drift.sls``): apply one minion's
    own ``assist`` state, at most once per ``assist_enforce_interval`` seconds.

Synced from file_roots with ``salt-run saltutil.sync_runners``; installed with pip, the
package serves it.
"""

import collections
import datetime
import fcntl
import hashlib
import logging
import os
import re
import time

import salt.cache
import salt.client
import salt.utils.mine
import salt.utils.minions
import salt.version
from salt.exceptions import SaltClientError

log = logging.getLogger(__name__)

__virtualname__ = "assist"
# What Salt's loader serves; the other public names are parts its tests use.
__all__ = ["report", "plan", "enforce"]

# Exit status of a call with bad arguments (nothing was published).
EX_USAGE = 2
# The least time between two state runs the reactor starts on one minion, when the
# master config has no assist_enforce_interval.
ENFORCE_INTERVAL = 30
# A plain minion id: no glob, list or compound syntax.
MINION_ID = re.compile(r"^[^\s,*?\[\]!@]+$")
BATCH = re.compile(r"^([1-9][0-9]*)(%?)$")
ROLLOUT_KEYS = ("target", "canary", "batch")
ROLLOUT_BATCH = "25%"
# The agent's facts an audit returns, counted and listed by the report.
FACTS = ("client", "daemon", "enable", "version", "init_system")
# Where a report reads from: a publish of assist.audit, or the mine in the master's cache.
SOURCES = ("live", "cache")
# The mine function whose answers the cached report reads (_modules/assist.py), and the
# period its answer is assumed to have when it names none (pillar/assist/mine.sls).
MINE_FUNCTION = "assist.mine_audit"
MINE_PERIOD = 300
# Salt 3008.3 moved mine data from bank minions/<id>, key mine, to bank mine, key <id>.
MINE_BANK_MOVED = (3008, 3)


def __virtual__():
    return __virtualname__


# --------------------------------------------------------------------------- report


def report(
    tgt="*",
    tgt_type="glob",
    timeout=None,
    gather_job_timeout=None,
    strict=False,
    by_minion=False,
    source="live",
    max_age=None,
):
    """
    Audit the Cloud Assistant agent on every targeted minion (``assist.audit``) and
    count: ``summary`` (targeted, answered, compliant, drifted, errors, unreachable),
    ``drifted`` (minion: its differences from its policy), ``errors`` (minion: what
    failed, such as a bad pillar or a minion without the assist module),
    ``unreachable`` (minions that did not answer), and ``counts`` of client state,
    watchdog, start at boot, version and init system among the minions that answered.

    tgt : ``*``
        The minions to audit.

    tgt_type : glob
        How ``tgt`` is read: glob, list, grain, pillar, compound, nodegroup, ...

    timeout
        Seconds to wait for answers before asking the silent minions whether they
        still run the job (the master's ``timeout`` when not given). Live only.

    gather_job_timeout
        Seconds to wait for that question's answer (the master's
        ``gather_job_timeout`` when not given). A minion that is down costs at most
        about ``timeout`` plus ``gather_job_timeout``. Live only.

    strict : False
        Exit non-zero when any minion drifts, fails or does not answer (from the
        cache: has no answer, or an answer older than ``max_age``).

    by_minion : False
        Return one row per minion instead (status, client, watchdog, start at boot,
        version, init system, detail; from the cache also the answer's age), for
        ``--out=table``.

    source : live
        ``live`` publishes ``assist.audit`` and waits for the answers; ``cache``
        publishes nothing and reads each minion's last ``assist.mine_audit`` from
        the mine, in the master's cache (any ``cache`` backend: localfs, redis, ...).
        The cached report has the same keys, with ``never`` (accepted minions with
        no answer in the cache) instead of ``unreachable``, plus ``stale`` (answers
        older than ``max_age``) and ``ages`` (minion: seconds since its answer was
        taken, by the minion's clock).

    max_age
        With ``source=cache``: seconds after which an answer is stale. By default
        twice the period each minion's answer names (its pillar ``schedule``).

    CLI Example:

    .. code-block:: bash

        salt-run assist.report
        salt-run assist.report tgt='G@role:web' tgt_type=compound strict=True
        salt-run assist.report by_minion=True --out=table
        salt-run assist.report source=cache max_age=900
    """
    problem = _report_arguments(tgt, tgt_type, timeout, gather_job_timeout, strict, by_minion, source, max_age)
    if problem:
        return _usage_error(problem)
    if source == "cache":
        return _cached_report(tgt, tgt_type, strict, by_minion, max_age)
    try:
        targeted, answers = _publish(
            tgt,
            tgt_type,
            "assist.audit",
            timeout or __opts__["timeout"],
            gather_job_timeout or __opts__["gather_job_timeout"],
        )
    except SaltClientError as exc:
        __context__["retcode"] = 1
        return {"error": f"publishing assist.audit failed: {exc}", "retcode": 1}
    ret = summarise(targeted, answers)
    failed = bool(ret["drifted"] or ret["errors"] or ret["unreachable"])
    if by_minion:
        ret = {"minions": rows(targeted, answers)}
    return _verdict(ret, strict, failed)


def _verdict(ret, strict, failed):
    """The report with its exit status: salt-run's follows a top-level retcode;
    orchestration's salt.runner judges __context__["retcode"]. Both say the same."""
    __context__["retcode"] = 1 if strict and failed else 0
    if strict:
        ret["retcode"] = __context__["retcode"]
    return ret


def _report_arguments(tgt, tgt_type, timeout, gather_job_timeout, strict, by_minion, source="live", max_age=None):
    """What is wrong with report's arguments, naming the argument; None when nothing."""
    if not isinstance(tgt, (str, list)) or not tgt:
        return f"tgt is {tgt!r}; give a target such as '*' or 'web-*'"
    # Read from the master's own dispatch: CkMinions.check_minions calls
    # _check_<type>_minions. Salt lists the types nowhere public, and a list of our own
    # would lag its releases (3008 added resource and managing_minion).
    # _check_cache_minions is the helper the grain and pillar matchers share, not a type.
    known = sorted(
        name[len("_check_") : -len("_minions")]
        for name in dir(salt.utils.minions.CkMinions)
        if name.startswith("_check_") and name.endswith("_minions") and name != "_check_cache_minions"
    )
    if tgt_type not in known:
        return f"tgt_type is {tgt_type!r}; use one of {', '.join(known)}"
    for name, value in (("timeout", timeout), ("gather_job_timeout", gather_job_timeout)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            return f"{name} is {value!r}; give a whole number of seconds, 1 or more"
    for name, value in (("strict", strict), ("by_minion", by_minion)):
        if not isinstance(value, bool):
            return f"{name} is {value!r}; use True or False"
    if source not in SOURCES:
        return f"source is {source!r}; use live (publish assist.audit) or cache (the mine in the master's cache)"
    if source == "cache" and (timeout is not None or gather_job_timeout is not None):
        return "timeout and gather_job_timeout are for the live report; source=cache waits for no minion"
    if max_age is not None:
        if source != "cache":
            return "max_age is for source=cache; the live report's answers are taken now"
        if not _seconds(max_age) or not max_age > 0:
            return f"max_age is {max_age!r}; give a number of seconds above 0, such as 900"
    return None


def _usage_error(problem):
    __context__["retcode"] = EX_USAGE
    return {"error": f"assist.report: {problem}; nothing was published", "retcode": EX_USAGE}


def _publish(tgt, tgt_type, fun, timeout, gather_job_timeout):
    """Publish ``fun``; the minions targeted, and {minion: answer} for those that
    answered (answer: the return and its retcode).

    Targeted are the minions the master matched and, on a master of masters, the ones
    each syndic's master matched (the syndic forwards that list; Salt's LocalClient
    adds it to the job's minions and, with expect_minions, yields a ``failed`` row
    for each of them that stayed silent)."""
    targeted, answers = set(), {}
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        rows_ = client.cmd_iter(
            tgt,
            fun,
            timeout=timeout,
            tgt_type=tgt_type,
            gather_job_timeout=gather_job_timeout,
            yield_pub_data=True,  # first: whom this master targeted
            expect_minions=True,  # last: a row for each silent minion, at any level
        )
        for number, row in enumerate(rows_):
            if number == 0:
                targeted.update((row or {}).get("minions", []))
                continue
            for minion, answer in (row or {}).items():
                targeted.add(minion)
                if isinstance(answer, dict) and not answer.get("failed") and answer.get("out") != "no_return":
                    answers[minion] = answer
    return sorted(targeted), answers


def _judge(answer):
    """One minion's answer: ("compliant" | "drifted", audit) or ("error", message)."""
    ret = answer.get("ret")
    if isinstance(ret, dict) and isinstance(ret.get("drift"), list) and {"policy", "agent"} <= set(ret):
        return ("drifted" if ret["drift"] else "compliant"), ret
    message = ret if isinstance(ret, str) else f"unexpected answer from assist.audit: {ret!r}"
    return "error", message[len("ERROR: ") :] if message.startswith("ERROR: ") else message


def summarise(targeted, answers, silent="unreachable"):
    """The report of the answers of the targeted minions (pure: no publishing). The
    targeted minions without an answer are listed under ``silent``: ``unreachable``
    live, ``never`` from the cache."""
    unreachable = sorted(set(targeted) - set(answers))
    drifted, errors = {}, {}
    counts = {key: collections.Counter() for key in FACTS}
    compliant = 0
    for minion in sorted(answers):
        verdict, found = _judge(answers[minion])
        if verdict == "error":
            errors[minion] = found
            continue
        if verdict == "drifted":
            drifted[minion] = found["drift"]
        else:
            compliant += 1
        for key, counter in counts.items():
            counter[_word(key, found["agent"])] += 1
    return {
        "summary": {
            "targeted": len(set(targeted) | set(answers)),
            "answered": len(answers),
            "compliant": compliant,
            "drifted": len(drifted),
            "errors": len(errors),
            silent: len(unreachable),
        },
        "drifted": drifted,
        "errors": errors,
        silent: unreachable,
        "counts": {key: dict(sorted(counter.items())) for key, counter in counts.items()},
    }


def _word(key, agent):
    """One of the agent's facts as a word that reads (and serialises) well as a count's
    name. An agent not installed has no version, rather than one unknown."""
    value = agent.get(key)
    if key == "enable":
        return {True: "on", False: "off"}.get(value, "unknown")
    if key == "version" and value is None and agent.get("client") == "not installed":
        return "not installed"
    return "unknown" if value is None else str(value)


def rows(targeted, answers, silent="unreachable", ages=None):
    """One row per minion (the same keys in each), for --out=table; with ``ages``
    (from the cache), an ``age`` column too, in seconds."""
    table = []
    for minion in sorted(set(targeted) | set(answers)):
        row = {"minion": minion, "status": silent, **dict.fromkeys(FACTS, ""), "detail": ""}
        if ages is not None:
            row["age"] = ages.get(minion, "")
        if minion in answers:
            verdict, found = _judge(answers[minion])
            row["status"] = verdict
            if verdict == "error":
                row["detail"] = found
            else:
                row.update({key: _word(key, found["agent"]) for key in FACTS})
                row["detail"] = "; ".join(found["drift"])
        table.append(row)
    return table


# --------------------------------------------------------------------------- report from the cache


def _cached_report(tgt, tgt_type, strict, by_minion, max_age):
    """The report from each targeted minion's last mine answer: the target resolved by
    the master's own matcher over its keys and cache (no publish), the answers read
    through the master's cache backend."""
    targeted = salt.utils.minions.CkMinions(__opts__).check_minions(tgt, tgt_type)["minions"]
    backend = __opts__.get("cache", "localfs")
    try:
        entries = read_mine(salt.cache.factory(__opts__), targeted)
    except KeyError:  # the loader's: no such backend, or its library is missing
        why = "Salt cannot load that backend: check the option's value and that its Python library is installed"
        return _cache_error(backend, why)
    except Exception as exc:  # pylint: disable=broad-except  # any backend's own failure
        return _cache_error(
            backend, f"{str(exc).rstrip('.')}; check that the backend runs and that the master's options for it reach it"
        )
    answers, ages, periods = cached_answers(entries, time.time())
    stale = sorted(minion for minion, age in ages.items() if age > (max_age or 2 * periods[minion]))
    ret = summarise(targeted, answers, silent="never")
    ret["summary"]["stale"] = len(stale)
    ret["stale"] = stale
    ret["ages"] = ages
    failed = bool(ret["drifted"] or ret["errors"] or ret["never"] or stale)
    if by_minion:
        ret = {"minions": rows(targeted, answers, silent="never", ages=ages)}
    return _verdict(ret, strict, failed)


def _cache_error(backend, why):
    __context__["retcode"] = 1
    return {
        "error": f"assist.report: cannot read the master's cache through its backend {backend!r} (master option cache): "
        f"{why}; nothing was published",
        "retcode": 1,
    }


def mine_place(minion, version=None):
    """(bank, key) where the master keeps a minion's mine data in its cache: bank
    ``minions/<id>``, key ``mine`` up to Salt 3008.2; bank ``mine``, key ``<id>`` from
    3008.3. ``version``: (major, minor), the running Salt's by default."""
    major, minor = version or salt.version.__saltstack_version__.info[:2]
    return ("mine", minion) if (major, minor) >= MINE_BANK_MOVED else (f"minions/{minion}", "mine")


def read_mine(cache, minions, version=None):
    """{minion: the mine function's cached answer} for the minions whose mine holds one
    (one fetch per minion, as every reader Salt ships; the backend's errors pass).
    ``version`` as for ``mine_place``."""
    found = {}
    for minion in minions:
        mine = cache.fetch(*mine_place(minion, version))
        if not isinstance(mine, dict):
            found[minion] = mine
        elif MINE_FUNCTION in mine:
            found[minion] = mine[MINE_FUNCTION]
    return found


def cached_answers(entries, now):
    """The cached answers as the live report's answers ({minion: {"ret": audit or the
    failure in words}}), their ages (whole seconds by the minion's clock, 0 at least)
    and periods (seconds between two answers, as the minion's answer says). Pure."""
    answers, ages, periods = {}, {}, {}
    for minion, entry in entries.items():
        if isinstance(entry, dict) and entry.get(salt.utils.mine.MINE_ITEM_ACL_ID):
            entry = entry.get(salt.utils.mine.MINE_ITEM_ACL_DATA)  # mine.send allow_tgt=...
        taken = _taken(entry)
        if taken is None:
            answers[minion] = {"ret": f"the master's cache holds no audit from {MINE_FUNCTION} for it: {entry!r:.200}"}
            continue
        ages[minion] = max(0, round(now - taken))
        period = entry.get("period")
        periods[minion] = period if _seconds(period) and period > 0 else MINE_PERIOD
        answers[minion] = {"ret": entry["audit"] if "audit" in entry else str(entry.get("error"))}
    return answers, ages, periods


def _taken(entry):
    """When a mine answer was taken (seconds since the epoch), or None when the entry
    is no answer of the mine function: a mapping with ``taken`` (ISO 8601, UTC) and
    ``audit`` or ``error``."""
    if not isinstance(entry, dict) or not ({"audit", "error"} & set(entry)) or not isinstance(entry.get("taken"), str):
        return None
    try:
        taken = datetime.datetime.fromisoformat(entry["taken"])
    except ValueError:
        return None
    return taken.timestamp() if taken.tzinfo else None


def _seconds(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- rollout


def plan(rollout=None):
    """
    The steps of a rollout of the ``assist`` state, from pillar ``assist_rollout``:
    ``target`` (a compound target), ``canary`` (a list of minion ids of the target,
    first and alone; none by default), ``batch`` (the size of each following wave:
    ``n`` minions or ``n%`` of the rest, at least one; 25% by default). Returns the
    target, the canary and the waves, each a list of minion ids.

    The minions are those that answer a ``test.ping`` to the target now, as Salt's
    ``--batch`` finds them, so a master of masters plans the minions of its syndics
    too. A targeted minion that stays silent refuses the plan (a wave holding it would
    fail halfway through the rollout): the error names it, to bring it up or leave it
    out of the target. A bad value returns ``error`` naming the pillar key.
    ``salt/assist/orch/rollout.sls`` renders its steps from it. The ping waits the
    master's ``timeout`` and ``gather_job_timeout``.

    CLI Example:

    .. code-block:: bash

        salt-run assist.plan rollout='{"target": "web-*", "canary": ["web-1"], "batch": "50%"}'
    """
    try:
        target, canary, batch = check_rollout(rollout)
        targeted, answers = _publish(
            target,
            "compound",
            "test.ping",
            __opts__["timeout"],
            __opts__["gather_job_timeout"],
        )
        ret = {"target": target, "canary": canary, "waves": waves(target, targeted, answers, canary, batch)}
    except (ValueError, SaltClientError) as exc:
        __context__["retcode"] = 1
        return {"error": str(exc), "retcode": 1}
    __context__["retcode"] = 0
    return ret


def check_rollout(rollout):
    """The rollout pillar's (target, canary, batch), checked; ValueError names the key."""
    if rollout is None:
        raise ValueError(
            "pillar assist_rollout is missing; give at least target (a compound target), "
            "and canary (a list of minion ids) and batch (n or n%) if wanted"
        )
    if not isinstance(rollout, dict):
        raise ValueError(f"pillar assist_rollout must be a mapping of {', '.join(ROLLOUT_KEYS)}, not {type(rollout).__name__}")
    unknown = sorted(map(str, set(rollout) - set(ROLLOUT_KEYS)))
    if unknown:
        raise ValueError(f"pillar assist_rollout: unknown key(s) {', '.join(unknown)}; known keys are {', '.join(ROLLOUT_KEYS)}")
    target = rollout.get("target")
    if target is None or target == "":
        raise ValueError("pillar assist_rollout:target is missing; give a compound target, such as 'web-*' or 'G@role:web'")
    if not isinstance(target, str):
        raise ValueError(f"pillar assist_rollout:target must be a compound target string, not {type(target).__name__}")
    canary = rollout.get("canary", [])
    if canary is None:
        canary = []
    if not isinstance(canary, list):
        raise ValueError(f"pillar assist_rollout:canary must be a list of minion ids, not {canary!r}")
    for minion in canary:
        if not isinstance(minion, str) or not MINION_ID.match(minion):
            raise ValueError(f"pillar assist_rollout:canary: {minion!r} is not a minion id; list plain ids, no patterns")
    if len(set(canary)) != len(canary):
        raise ValueError(f"pillar assist_rollout:canary lists a minion twice: {canary}")
    batch = rollout.get("batch", ROLLOUT_BATCH)
    found = BATCH.match(str(batch)) if isinstance(batch, (int, str)) and not isinstance(batch, bool) else None
    if not found or (found.group(2) and int(found.group(1)) > 100):
        raise ValueError(
            f"pillar assist_rollout:batch is {batch!r}; use a number of minions n (1 or more) or a percentage n% (1% to 100%)"
        )
    return target, canary, str(batch)


def waves(target, targeted, answered, canary, batch):
    """The waves after the canary: the target's other minions in order, ``batch`` at a
    time (``n%``: that share of them, rounded down, at least one, as Salt's --batch).
    ValueError when the target matches nothing, leaves out the canary, or holds a
    minion that did not answer."""
    if not targeted:
        raise ValueError(f"pillar assist_rollout:target {target!r} matches no minion")
    silent = sorted(set(targeted) - set(answered))
    if silent:
        raise ValueError(
            f"pillar assist_rollout:target {target!r}: {', '.join(silent)} did not answer; "
            f"start them, or leave them out: target: '( {target} ) and not L@{','.join(silent)}'"
        )
    matched = sorted(targeted)
    outside = [minion for minion in canary if minion not in matched]
    if outside:
        raise ValueError(
            f"pillar assist_rollout:canary: {', '.join(outside)} not among the minions the target matches ({', '.join(matched)})"
        )
    rest = [minion for minion in matched if minion not in canary]
    number, percent = BATCH.match(batch).groups()
    size = max(1, int(number) * len(rest) // 100) if percent else int(number)
    return [rest[start : start + size] for start in range(0, len(rest), size)]


# --------------------------------------------------------------------------- enforce


def enforce(minion):
    """
    Apply the ``assist`` state on one minion, for the reactor
    (``salt/assist/reactor/drift.sls``): ``minion`` must be the id of an accepted
    minion, and is targeted as a list of one (never as a pattern). The run is queued
    behind a state run already going on there (``queue=True``). At most one state
    run is started per minion every ``assist_enforce_interval`` seconds (master
    config, 30 by default; keep it below the beacons' interval); more calls in that
    time start nothing and say so. Returns the job id published, or why none was.

    CLI Example:

    .. code-block:: bash

        salt-run assist.enforce web-1
    """
    if not isinstance(minion, str) or not MINION_ID.match(minion):
        log.warning("assist.enforce: %r is not a minion id; nothing was published", minion)
        return {"minion": minion, "published": None, "comment": "not a minion id; nothing was published"}
    accepted = salt.utils.minions.CkMinions(__opts__).check_minions(minion, "list")["minions"]
    if minion not in accepted:
        log.warning("assist.enforce: %s is not an accepted minion; nothing was published", minion)
        return {"minion": minion, "published": None, "comment": "not an accepted minion; nothing was published"}
    interval = __opts__.get("assist_enforce_interval", ENFORCE_INTERVAL)
    try:
        last = _claim(minion, interval)
    except OSError as exc:  # without its turn kept, a flood of events could start a run each
        log.error("assist.enforce: cannot keep %s's turn in %s: %s; nothing was published", minion, exc.filename, exc.strerror)
        return {
            "minion": minion,
            "published": None,
            "comment": f"cannot keep the minion's turn in {exc.filename}: {exc.strerror}; make the master's cache "
            "directory writable; nothing was published",
        }
    if last is not None:
        log.info("assist.enforce: a state run was started on %s %.1f s ago; not again within %s s", minion, last, interval)
        return {
            "minion": minion,
            "published": None,
            "comment": f"a state run was started {last:.1f} s ago; at most one every {interval} s",
        }
    # queue=True: a state run already going on the minion (another master's, for the same
    # drift) makes this one wait its turn; without it, two runs published at once can
    # each refuse the other ("state.apply is running"), and the drift stays until the
    # beacon's reminder.
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        jid = client.cmd_async(minion, "state.apply", ["assist"], tgt_type="list", kwarg={"queue": True})
    log.info("assist.enforce: applying the assist state on %s, job %s", minion, jid)
    return {"minion": minion, "published": jid or None, "comment": "applying the assist state"}


def _claim(minion, interval):
    """Take the minion's turn: None when the last state run started here is
    ``interval`` seconds old or more (and record now), else its age. Safe for the
    reactor's threads and processes: one file per minion, locked. (Not
    salt.utils.files.flopen: it unlocks before its buffered write reaches the file.)"""
    directory = os.path.join(__opts__["cachedir"], "assist", "enforce")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, hashlib.sha256(minion.encode()).hexdigest())
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        now = time.time()
        try:
            age = now - float(os.read(fd, 64) or 0)
        except ValueError:
            age = now
        if 0 <= age < interval:
            return age
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, repr(now).encode())
        return None
    finally:
        os.close(fd)
