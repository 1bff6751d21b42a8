"""7. What keeping the cache fresh costs (pillar/assist/mine.sls, _utils/assist_mine.py):

a minion's CPU per period: the scheduled job assist_mine runs `mine.send
assist.mine_audit` once a period; against `mine.send test.ping`, the same job with
Salt's cheapest function, on the fan-out's first raw minion while it is alone (the
CPU of its process group, as bench/jobcpu.py reads it);
the time a mutating verb takes with the refresh it asks for after a change (an event
to the minion's scheduler: run assist_mine now) and without it: `assist.stop` and
`assist.start`, alternately, on two minions alike but for their pillar: one with the
job assist_mine, one (fleet.WITHOUT_MINE) without it, where no refresh happens.
Wall time of the salt CLI, interleaved; started after the fan-out's minions are
stopped.
"""

import statistics
import time

from common import Row, log, median, median_said
from fleet import WITHOUT_MINE
from jobcpu import cpu_per_job, cpu_row

MINE_JOBS = {
    "mine.send test.ping": lambda value: value is True,
    "mine.send assist.mine_audit": lambda value: value is True,
}
WITH_MINE = "bench-mine"
VERBS = ("assist.stop", "assist.start")
VERB_REPS = 3  # times the bench's repetitions: a difference of milliseconds in 0.5 s calls
EVENTS_ARRIVE = 10  # seconds the master's events of a job may take to reach the listener


def mine_cpu_rows(fleet, name, group, reps):
    log(f"CPU of the mine job on {name}")
    cpu = cpu_per_job(fleet, name, group, reps, MINE_JOBS)
    audit = cpu[0]["mine.send assist.mine_audit"]
    note = (
        f"one run of the job assist_mine a period (every 5 minutes by default: {audit * 12 / 1000:.2f} s of CPU "
        "an hour); published here, so each job also holds the CPU of receiving a publish, which a scheduled run does not"
    )
    return [
        cpu_row("mine_job_cpu", "7 minion CPU per period, the mine job, 1 minion", ("mine.send assist.mine_audit",), cpu, note)
    ]


def changed(value):
    return isinstance(value, dict) and bool(value.get("changes"))


def schedules_mine(value):
    return isinstance(value, dict) and "assist_mine" in value


def start_pair(fleet):
    """The minion with the job assist_mine and the one without, synced and checked."""
    names = [WITH_MINE, WITHOUT_MINE]
    for name in names:
        fleet.start_minion(name, fleet.minion_factory(name))
    fleet.call(names, "saltutil.sync_all", check=lambda value: isinstance(value, dict))
    _, returns, _ = fleet.salt(",".join(names), "pillar.get", "schedule", list_target=True)
    if not schedules_mine(returns.get(WITH_MINE)) or schedules_mine(returns.get(WITHOUT_MINE)):
        raise RuntimeError(f"the two minions' pillar schedules are not as meant: {returns}")
    return names


def job_events(fleet, name, verb, since):
    """The master's events of the one job of `verb` on `name` published after `since`:
    (its publish, its return), or None while the return has not reached the listener."""
    master = fleet.master.id
    returns = [
        event
        for event in fleet.listener.get_events([(master, f"salt/job/*/ret/{name}")], after_time=since)
        if event.data.get("fun") == verb
    ]
    if len(returns) != 1:
        return None
    published = fleet.listener.get_events([(master, f"salt/job/{returns[0].data['jid']}/new")], after_time=since)
    return (next(iter(published)), returns[0]) if published else None


def timed_verb(fleet, name, verb):
    """The seconds from the master's publish of the verb to the minion's return, by the
    master's event stamps; raises unless the verb changed something."""
    since = time.time()
    fleet.call([name], verb, check=changed)
    deadline = time.monotonic() + EVENTS_ARRIVE
    while (events := job_events(fleet, name, verb, since)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the publish and return events of {verb} on {name} did not reach the bench's listener")
        time.sleep(0.1)
    published, returned = events
    return (returned.stamp - published.stamp).total_seconds()


def spread(values):
    """The interquartile range: how far repetitions of one call differ."""
    quartiles = statistics.quantiles(values, n=4)
    return quartiles[2] - quartiles[0]


def verb_rows(fleet, reps):
    """assist.stop then assist.start, each a change, on both minions, interleaved."""
    log("verbs with and without the mine's refresh")
    names = start_pair(fleet)
    try:
        samples = {(verb, name): [] for verb in VERBS for name in names}
        for rep in range(reps * VERB_REPS):
            order = names if rep % 2 == 0 else names[::-1]
            for verb in VERBS:
                for name in order:
                    samples[verb, name].append(timed_verb(fleet, name, verb))
    finally:
        for name in names:
            fleet.stop_minion(name)
    more = {verb: median(samples[verb, WITH_MINE]) - median(samples[verb, WITHOUT_MINE]) for verb in VERBS}
    noise = {verb: spread(samples[verb, WITHOUT_MINE]) for verb in VERBS}
    row = Row(
        key="verb_refresh",
        measure="7 verb time with the mine's refresh, 1 minion",
        subject=", ".join(median_said(verb, samples[verb, WITH_MINE]) for verb in VERBS),
        baseline="without: " + ", ".join(median_said(verb, samples[verb, WITHOUT_MINE]) for verb in VERBS),
        figure=" / ".join(f"{more[verb] * 1000:+.0f} ms" for verb in VERBS),
        goal="not measurable: within the spread",
        met=all(more[verb] <= noise[verb] for verb in VERBS),
        note="the spread (interquartile range) of the calls without: "
        + ", ".join(f"{verb} {noise[verb] * 1000:.0f} ms" for verb in VERBS)
        + "; the master's publish to the minion's return, each call a change",
        data={
            "seconds": {f"{verb} {name}": values for (verb, name), values in samples.items()},
            "difference_seconds": more,
            "spread_seconds": noise,
        },
    )
    return [row]
