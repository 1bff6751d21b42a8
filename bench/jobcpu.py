"""3. What one job costs the minion itself, in CPU: `assist.status` and `assist.audit`
against `test.ping`, on one raw minion of the fan-out (bench/swarm.py) while it is the
only one. The CPU of the minion's process group (its own, and the commands it ran and
waited for), read from /proc before and after a block of calls. Unlike wall time on 2
shared cores, this is what each instance of a real fleet pays."""

import os

from common import Row, log, median
from fanout import MINION_CHECKS

FUNCTIONS = ("test.ping", "assist.status", "assist.audit")
CALLS = 10  # per block: /proc counts CPU in ticks of 10 ms, 1 ms a call here
TICK = os.sysconf("SC_CLK_TCK")


def group_cpu(group):
    """Seconds of CPU used by the processes of a process group and their waited-for children."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group:  # pgrp
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / TICK


def per_job(fleet, name, group, job, check):
    """Milliseconds of the minion's CPU per call of job (function and arguments), over
    one block of calls."""
    before = group_cpu(group)
    for _ in range(CALLS):
        fleet.call([name], *job, check=check)
    return (group_cpu(group) - before) / CALLS * 1000


def cpu_per_job(fleet, name, group, reps, checks):
    """{job: median milliseconds of CPU per call}, {job: samples}; checks maps each job
    (a string: the function and its arguments, space-separated) to the check of its
    answer. Interleaved blocks, the order turned by one each repetition."""
    jobs = list(checks)
    for job in jobs:  # warm-up: modules loaded
        fleet.call([name], *job.split(), check=checks[job])
    samples = {job: [] for job in jobs}
    for rep in range(reps):
        shift = rep % len(jobs)
        for job in jobs[shift:] + jobs[:shift]:
            samples[job].append(per_job(fleet, name, group, job.split(), checks[job]))
    return {job: median(values) for job, values in samples.items()}, samples


def cpu_row(key, measure, measured, cpu, note):
    """A row of CPU per job: the `measured` jobs' medians against the baseline (the job
    of `cpu`'s medians that is not measured), the first measured one's difference.
    `cpu`: what cpu_per_job returns."""
    ms, samples = cpu
    baseline = next(job for job in ms if job not in measured)
    return Row(
        key=key,
        measure=measure,
        subject=", ".join(f"{job} {ms[job]:.1f} ms" for job in measured),
        baseline=f"{baseline} {ms[baseline]:.1f} ms",
        figure=f"{ms[measured[0]] - ms[baseline]:+.1f} ms",
        goal="(none given)",
        met=None,
        note=note,
        data={"median_ms": ms, "samples_ms": samples, "calls_per_sample": CALLS},
    )


def rows(fleet, name, group, reps):
    log(f"minion CPU per job on {name}")
    cpu = cpu_per_job(fleet, name, group, reps, {function: MINION_CHECKS[function] for function in FUNCTIONS})
    note = "the audit's CPU beyond test.ping's, per job; the minion's process group, waited-for children included"
    return [cpu_row("minion_cpu_per_job", "3 minion CPU per job, 1 minion", ("assist.audit", "assist.status"), cpu, note)]
