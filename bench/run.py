"""Benchmark of assist-salt (issue 6): every figure is a ratio (or a difference, or a
count) against a baseline measured in the same run, the median of several repetitions.

    .venv/bin/python bench/run.py           # the full run (25 to 35 minutes, 2 cores)
    .venv/bin/python bench/run.py --quick   # a smoke run: fewer repetitions, 1 and 20 minions
    .venv/bin/python bench/run.py --only cache   # only section 6 and 7's rows (and the fleet they need)

Prints the machine and a table (goal, met/missed per row) and writes the same to
bench/results/latest.json; daemon logs go to bench/results/bench.log.

  1 detection   bench/detection.py   module's cold detection vs `strings | grep`
  2 stop        bench/inproc.py      assist.stop vs the vendor's bare commands
  3 fan-out     bench/fanout.py      salt '*' assist.status (and assist.audit) vs test.ping,
                                     salt-run assist.report vs manage.status, 1..100 minions
                                     (light raw minions: bench/swarm.py); the master's memory
    minion CPU  bench/jobcpu.py      a minion's CPU per job: assist.audit vs test.ping
  4 highstate   bench/highstate.py   state.apply assist vs an empty SLS
  5 memory      bench/memory.py      minion peak RSS: assist.status vs unsynced test.ping
  6 cached      bench/cached.py      salt-run assist.report source=cache vs the live report
                                     (the fan-out's largest fleet), vs salt-run mine.get at
                                     1,000 and 10,000 minions (bench/cache_writer.py) on
                                     localfs and Redis, under 2 s; the memory it adds
  7 freshness   bench/freshness.py   a minion's CPU for the mine job per period; a verb's
                                     time with and without the mine's refresh

The processes each call starts are counted by the unit tier over recorded commands
(tests/unit/utils/test_assist_<init system>.py); bench/profile_detection.py breaks a detection down.
"""

import argparse
import logging
import pathlib
import shutil
import signal
import sys
import tempfile
import time

import cached
import common  # noqa: F401  (sets the import path; each bench module imports it first)
import detection
import fanout
import freshness
import highstate
import inproc
import jobcpu
import memory
import report
from common import BENCH, SECTIONS, Settings, guarded, log
from fleet import Fleet

RESULTS = BENCH / "results"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 3 repetitions, fan-out on 1 and 20 minions, 1 memory pair"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="run only these sections: detection (1), stop (2), fanout (3 to 5), cache (6 and 7; "
        "its fleet grows as the fan-out's, without the fan-out's calls)",
    )
    return parser.parse_args(argv)


def fleet_sections(settings):
    """3 to 7 on one master: the fan-out's minions (CPU per job, highstate and the mine
    job's CPU at size 1; the cached report against the live one at the largest size),
    then the memory minion and the pair of minions for the verbs' refresh."""
    fanout_on, cache_on = "fanout" in settings.sections, "cache" in settings.sections
    largest = max(settings.fanout_sizes)
    fleet = Fleet(settings.work / "fleet")
    try:
        fleet.start()

        def at_size(size, names):
            """On the first minion while it is the only one: its CPU per job, its highstate,
            the mine job's CPU; on the whole fleet at the largest size: the cached report."""
            rows = []
            group = fleet.swarm.processes[names[0]].pid  # started in a session of its own
            if size == 1 and fanout_on:
                rows += guarded("minion CPU", jobcpu.rows, fleet, names[0], group, settings.reps)
                rows += guarded("highstate", highstate.rows, fleet, names[0], settings.reps)
            if size == 1 and cache_on:
                rows += guarded("7 mine job CPU", freshness.mine_cpu_rows, fleet, names[0], group, settings.reps)
            if size == largest and cache_on:
                rows += guarded("6 cached report vs live", cached.live_rows, fleet, names, settings.fanout_reps)
            return rows

        rows = guarded("fan-out", fanout.grow_and_measure, fleet, settings, at_size, fanout_on)
        fleet.stop_minions()  # a quiet machine for the memory samples and the verbs
        if fanout_on:
            rows += guarded("memory", memory.rows, fleet, settings.memory_pairs)
        if cache_on:
            rows += guarded("7 verbs and the refresh", freshness.verb_rows, fleet, settings.reps)
        return rows
    finally:
        log("stopping the master, the minions and the fake agents")
        fleet.stop()


def measure_all(settings):
    rows = []
    if "detection" in settings.sections:
        rows += guarded("detection", detection.run, settings)
    if "stop" in settings.sections:
        rows += guarded("in-process", inproc.run, settings)
    if {"fanout", "cache"} & settings.sections:
        rows += guarded("daemons", fleet_sections, settings)
    if "cache" in settings.sections:
        rows += guarded("6 cached report at scale", cached.scale_rows, settings)
    return sorted(rows, key=lambda row: row.measure[:1])  # by item number, stable


def send_logs_to_file():
    """Daemon logs (forwarded by salt-factories' log server) go to a file, not the terminal."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(RESULTS / "bench.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)


def exit_on_sigterm():
    """SIGTERM unwinds like Ctrl-C, so every daemon and fake agent is stopped."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))


def main(argv=None):
    args = parse_args(argv)
    send_logs_to_file()
    exit_on_sigterm()
    work = tempfile.mkdtemp(prefix="bench-")  # short: daemons' sockets live below it
    settings = Settings(quick=args.quick, work=pathlib.Path(work), sections=frozenset(args.only))
    info = report.machine()
    start = time.monotonic()
    try:
        rows = measure_all(settings)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    took = time.monotonic() - start
    info["at_end"] = report.contention()
    print(report.header(info, settings))
    print(report.table(rows))
    print(f"({took:.0f} s; JSON in {RESULTS / 'latest.json'})")
    report.write_json(RESULTS / "latest.json", info, settings, rows, took)
    return 1 if any(row.key.startswith("error_") for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
