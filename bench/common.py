"""Shared by every benchmark: paths, the settings of a run, timing and medians."""

import dataclasses
import os
import pathlib
import statistics
import sys
import time
import traceback

REPO = pathlib.Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
BIN = pathlib.Path(sys.executable).parent

if str(REPO) not in sys.path:  # tests.support.fakeagent, tests.conftest.load_source
    sys.path.insert(0, str(REPO))


# The parts of a run that --only picks (bench/run.py).
SECTIONS = ("detection", "stop", "fanout", "cache")


@dataclasses.dataclass
class Settings:
    """How much to measure: the full run, or a quick smoke run (--quick); every section,
    or those --only names."""

    quick: bool
    work: pathlib.Path  # a temporary directory, removed at the end
    sections: frozenset = frozenset(SECTIONS)

    @property
    def reps(self):
        """Repetitions of each timed comparison (the median is reported)."""
        return 3 if self.quick else 7

    @property
    def fanout_reps(self):
        """Fewer for the fan-out: one call to 100 minions takes about 10 s on 2 cores."""
        return 3 if self.quick else 5

    @property
    def fanout_sizes(self):
        return (1, 20) if self.quick else (1, 20, 50, 100)

    @property
    def memory_pairs(self):
        return 1 if self.quick else 3


@dataclasses.dataclass
class Row:
    """One line of the table: a figure, its goal and whether the goal is met."""

    key: str
    measure: str
    subject: str  # the median of what is measured, in words
    baseline: str  # the median of the baseline, in words
    figure: str  # the ratio (or difference, or count), in words
    goal: str
    met: bool | None  # None: not measured (the reason is in `note`)
    note: str = ""
    data: dict = dataclasses.field(default_factory=dict)  # raw samples, for the JSON


def median(values):
    return statistics.median(values)


def timed(function, *args, **kwargs):
    """(seconds, result) of one call, by the monotonic clock."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def median_said(label, samples):
    """`label` and the median of its samples (seconds), in words: "assist.stop 41.2 ms"."""
    return f"{label} {seconds(median(samples))}"


def seconds(value):
    """A duration in the unit that reads best."""
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.2f} s"


def log(message):
    """Progress on stderr; the table goes to stdout."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def env_without_pythonpath():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


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
