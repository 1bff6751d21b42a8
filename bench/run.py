"""Benchmark of assist-salt (issue 6): every figure is a ratio (or a difference, or a
count) against a baseline measured in the same run, the median of several repetitions.

    .venv/bin/python bench/run.py           # the full run (under 20 minutes, 2 cores)
    .venv/bin/python bench/run.py --quick   # a smoke run: fewer repetitions, 1 and 20 minions

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
import traceback

import common  # noqa: F401  (sets the import path first)
import detection
import fanout
import highstate
import inproc
import jobcpu
import memory
import report
from common import BENCH, Row, Settings, log
from fleet import Fleet

RESULTS = BENCH / "results"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 3 repetitions, fan-out on 1 and 20 minions, 1 memory pair"
    )
    return parser.parse_args(argv)


def error_row(section, exc):
    log(f"{section} failed:\n{traceback.format_exc()}")
    return Row(
        key=f"error_{section}",
        measure=section,
        subject="error",
        baseline="-",
        figure="-",
        goal="-",
        met=False,
        note=f"{type(exc).__name__}: {exc}",
    )


def guarded(section, function, *args):
    """The rows of one section, or one error row: a failure does not stop the others."""
    try:
        return function(*args)
    except Exception as exc:
        return [error_row(section, exc)]


def fleet_sections(settings):
    """3, 4 and 5: one master; fan-out minions (CPU per job and highstate at size 1), then
    the memory minion."""
    fleet = Fleet(settings.work / "fleet")
    try:
        fleet.start()

        def alone(size, names):
            """On the first minion while it is the only one: its CPU per job, its highstate."""
            if size != 1:
                return []
            group = fleet.swarm.processes[names[0]].pid  # started in a session of its own
            return guarded("minion CPU", jobcpu.rows, fleet, names[0], group, settings.reps) + guarded(
                "highstate", highstate.rows, fleet, names[0], settings.reps
            )

        rows = guarded("fan-out", fanout.grow_and_measure, fleet, settings, alone)
        fleet.stop_minions()  # a quiet machine for the memory samples
        return rows + guarded("memory", memory.rows, fleet, settings.memory_pairs)
    finally:
        log("stopping the master, the minions and the fake agents")
        fleet.stop()


def measure_all(settings):
    rows = guarded("detection", detection.run, settings)
    rows += guarded("in-process", inproc.run, settings)
    rows += guarded("daemons", fleet_sections, settings)
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
    settings = Settings(quick=args.quick, work=pathlib.Path(work))
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
