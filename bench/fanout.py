"""3. Fan-out at scale, against Salt's own calls measured in the same run, on the same
minions (1, 20, 50, 100; --quick: 1, 20), the fleet grown in batches:

  salt '*' assist.status    vs  salt '*' test.ping
  salt '*' assist.audit     vs  salt '*' test.ping
  salt-run assist.report    vs  salt-run manage.status

Wall time of the CLI, medians of interleaved repetitions; the master's memory (the sum
of PSS over the salt-master's processes, sampled every 50 ms: bench/sampler.py) during
each call; a straight line fitted to time against the number of minions (seconds added per
minion).
"""

import statistics
import subprocess
import traceback

from common import Row, log, median, seconds, timed
from fleet import runner_error, runner_value
from sampler import TreePeak

RATIO_GOALS = {"assist.status": 1.25, "assist.audit": 1.25, "assist.report": 1.3}
REPORT_MEMORY_GOAL_MB = 50.0
BASELINE = {"assist.status": "test.ping", "assist.audit": "test.ping", "assist.report": "manage.status"}
RUNNERS = ("manage.status", "assist.report")


def is_status(value):
    return isinstance(value, dict) and value.get("client", {}).get("running") is True


MINION_CHECKS = {
    "test.ping": lambda value: value is True,
    "assist.status": is_status,
    "assist.audit": lambda value: isinstance(value, dict),
}


# In the order measured; each repetition turns it by one.
FUNCTIONS = ("test.ping", "assist.status", "assist.audit", "manage.status", "assist.report")


class Sample:
    """One call: wall seconds, the master's memory before and at its peak (MB), and
    for a runner the peak of the salt-run process (MB)."""

    def __init__(self, took, master, runner_mb=None):
        self.took, self.master_before, self.master_peak = took, master.before, master.peak
        self.runner_mb = runner_mb

    def as_dict(self):
        return {
            "seconds": self.took,
            "master_before_mb": self.master_before,
            "master_peak_mb": self.master_peak,
            "salt_run_peak_mb": self.runner_mb,
        }


def call(fleet, names, function):
    """One call, checked: every minion answered well (raises otherwise)."""
    with TreePeak(fleet.master.pid) as master:
        if function in RUNNERS:
            took, done = timed(fleet.salt_run, [function])
            runner_mb = done.peak_mb
        else:
            took = fleet.call_all(names, function, MINION_CHECKS[function])
            runner_mb = None
    if function in RUNNERS:
        check_runner(function, names, done)
    return Sample(took, master, runner_mb)


def check_runner(function, names, done):
    value = runner_value(done)
    good = isinstance(value, dict)
    if good and function == "manage.status":
        good = sorted(value.get("up", [])) == sorted(names) and not value.get("down")
    if good and function == "assist.report":
        good = value.get("summary", {}).get("answered") == len(names) and not value.get("unreachable")
    if not good:
        raise runner_error(done)


def measure(fleet, names, functions, reps):
    """Interleaved, the order turned by one each repetition, so drift hits all alike.
    A call that lost a minion's return is not timed; it is counted in `failed` (and the
    row says so): on 2 cores, 100 minions can be slow to answer the CLI's job check. A
    warm-up call that lost one is logged: it ended a full run's fan-out at 100 minions."""
    for function in functions:  # warm-up; a lost return here is no failure either
        try:
            call(fleet, names, function)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            log(f"{function} on {len(names)} minions, warm-up: {exc}"[:800])
    samples = {function: [] for function in functions}
    failed = {function: [] for function in functions}
    for rep in range(reps):
        shift = rep % len(functions)
        for function in functions[shift:] + functions[:shift]:
            try:
                samples[function].append(call(fleet, names, function))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                log(f"{function} on {len(names)} minions: {exc}")
                failed[function].append(str(exc)[:500])
    if not all(samples.values()):
        raise RuntimeError(f"every call of some function failed on {len(names)} minions: {failed}")
    return samples, failed


def med(samples, attribute):
    return median([getattr(sample, attribute) for sample in samples])


def lost(failed, *functions):
    counts = [f"{function} {len(failed[function])}" for function in functions if failed.get(function)]
    return f"; calls that lost a return (not timed): {', '.join(counts)}" if counts else ""


def ratio_row(size, function, samples, failed, largest):
    base = BASELINE[function]
    goal_here = size == largest
    label = f"3 fan-out, {size} minion{'s' if size > 1 else ''}: {function}"
    ratio = med(samples[function], "took") / med(samples[base], "took")
    return Row(
        key=f"fanout_{function.split('.')[1]}_{size}",
        measure=label,
        subject=f"{function} {seconds(med(samples[function], 'took'))}",
        baseline=f"{base} {seconds(med(samples[base], 'took'))}",
        figure=f"{ratio:.2f}x",
        goal=f"<= {RATIO_GOALS[function]}x" if goal_here else "(goal at the largest)",
        met=(ratio <= RATIO_GOALS[function]) if goal_here else None,
        note=f"master peak PSS {med(samples[function], 'master_peak'):.0f} MB "
        f"({base}: {med(samples[base], 'master_peak'):.0f} MB)" + lost(failed, function, base),
        data={
            "ratio": ratio,
            function: [s.as_dict() for s in samples[function]],
            base: [s.as_dict() for s in samples[base]],
            "failed": failed,
        },
    )


def master_memory_row(size, samples):
    """The master's peak during the fan-out at the largest size."""
    peaks = {function: med(s, "master_peak") for function, s in samples.items()}
    return Row(
        key=f"master_memory_{size}",
        measure=f"3 master peak PSS, {size} minions",
        subject=f"assist.status {peaks['assist.status']:.0f} MB",
        baseline=f"test.ping {peaks['test.ping']:.0f} MB",
        figure=f"{peaks['assist.status'] - peaks['test.ping']:+.0f} MB",
        goal="(none given)",
        met=None,
        note="sum over the salt-master's processes; per call: "
        + ", ".join(f"{function} {peak:.0f} MB" for function, peak in peaks.items()),
        data={"median_peak_mb": peaks},
    )


def added_by_runner(samples):
    """What a runner call adds on the master host: the master's peak during the call
    minus just before, plus the salt-run process's own peak."""
    return {"daemons_mb": med(samples, "master_peak") - med(samples, "master_before"), "salt_run_mb": med(samples, "runner_mb")}


def report_memory_row(size, samples):
    base = added_by_runner(samples["manage.status"])
    report = added_by_runner(samples["assist.report"])
    added = report["daemons_mb"] + report["salt_run_mb"] - base["salt_run_mb"]
    return Row(
        key=f"report_memory_{size}",
        measure=f"3 master memory added by a report, {size} minions",
        subject=f"assist.report: daemons {report['daemons_mb']:+.1f} MB, salt-run {report['salt_run_mb']:.0f} MB",
        baseline=f"manage.status: daemons {base['daemons_mb']:+.1f} MB, salt-run {base['salt_run_mb']:.0f} MB",
        figure=f"{added:+.1f} MB",
        goal=f"< {REPORT_MEMORY_GOAL_MB:.0f} MB",
        met=added < REPORT_MEMORY_GOAL_MB,
        note="the daemons' growth during the report plus the salt-run process's peak beyond manage.status's",
        data={"manage.status": base, "assist.report": report, "added_mb": added},
    )


def growth_row(by_size):
    """Seconds added per minion: least squares over the medians at each size."""
    sizes = sorted(by_size)
    slopes = {}
    for function in by_size[sizes[-1]]:
        medians = [med(by_size[size][function], "took") for size in sizes]
        slopes[function] = statistics.linear_regression(sizes, medians).slope
    per = ", ".join(f"{function} {slope * 1000:+.1f}" for function, slope in slopes.items())
    return Row(
        key="fanout_growth",
        measure=f"3 fan-out growth over {'/'.join(map(str, sizes))} minions",
        subject=f"assist.status {slopes['assist.status'] * 1000:+.1f} ms/minion",
        baseline=f"test.ping {slopes['test.ping'] * 1000:+.1f} ms/minion",
        figure=f"{slopes['assist.status'] / slopes['test.ping']:.2f}x",
        goal="(none given)",
        met=None,
        note=f"fitted slopes, ms per minion: {per}",
        data={"sizes": sizes, "slope_seconds_per_minion": slopes},
    )


def grow_and_measure(fleet, settings, at_size=None, fanout=True):
    """Rows for every fleet size; at_size(size, names) runs after each size's fan-out
    (CPU per job and highstate at 1, the cached report at the largest) and its rows
    follow. Without `fanout`, the fleet only grows, for at_size. A size that fails ends
    the growth with an error row; the sizes before it keep theirs."""
    rows, names, by_size = [], [], {}
    largest = max(settings.fanout_sizes)
    for size in settings.fanout_sizes:
        try:
            new = [f"bench-{n:03d}" for n in range(len(names) + 1, size + 1)]
            fleet.add_minions(new)
            names += new
            if fanout:
                log(f"fan-out on {size} minion(s): {', '.join(FUNCTIONS)}")
                by_size[size], failed = measure(fleet, names, FUNCTIONS, settings.fanout_reps)
        except Exception as exc:
            log(f"fan-out on {size} minions failed:\n{traceback.format_exc()}")
            rows.append(
                Row(
                    key=f"error_fanout_{size}",
                    measure=f"3 fan-out, {size} minions",
                    subject="error",
                    baseline="-",
                    figure="-",
                    goal="-",
                    met=False,
                    note=f"{type(exc).__name__}: {exc}"[:600],
                )
            )
            break
        if fanout:
            rows += [
                ratio_row(size, function, by_size[size], failed, largest)
                for function in ("assist.status", "assist.audit", "assist.report")
            ]
        if at_size:
            rows += at_size(size, names)
    if largest in by_size:
        rows.append(master_memory_row(largest, by_size[largest]))
        rows.append(report_memory_row(largest, by_size[largest]))
    if len(by_size) > 1:
        rows.append(growth_row(by_size))
    return rows
