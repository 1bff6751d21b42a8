"""The machine in the header, the table on stdout, and the same as JSON."""

import dataclasses
import datetime
import json
import os
import platform
import subprocess

import psutil
from common import SECTIONS

COLUMNS = (
    ("measure", "measure"),
    ("subject", "measured (median)"),
    ("baseline", "baseline (median)"),
    ("figure", "figure"),
    ("goal", "goal"),
    ("verdict", "result"),
)


def cpu_model():
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def concurrent_test_run():
    """Whether a test suite run shares the machine (its load is in both sides of a ratio)."""
    return subprocess.run(["pgrep", "-f", "--", "-m pytest|pytest tests"], capture_output=True).returncode == 0


def machine():
    import salt.version
    import saltfactories

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": psutil.virtual_memory().total / 2**30,
        "python": platform.python_version(),
        "salt": salt.version.__version__,
        "salt_factories": saltfactories.__version__,
        "kernel": platform.release(),
        "at_start": contention(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def contention():
    """Load and a concurrent test run, sampled at the start and at the end of the run."""
    return {"load_average": os.getloadavg()[0], "test_suite_running": concurrent_test_run()}


def header(info, settings):
    mode = "quick (smoke run)" if settings.quick else "full"
    if settings.sections != frozenset(SECTIONS):
        mode += ", only " + ", ".join(section for section in SECTIONS if section in settings.sections)
    return (
        f"assist-salt benchmark, {mode}, {info['date']}: {settings.reps} repetitions "
        f"({settings.fanout_reps} for fan-out on {'/'.join(map(str, settings.fanout_sizes))} "
        f"minions), medians, ratios against baselines measured in this run\n"
        f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']:.0f} GB, "
        f"kernel {info['kernel']}; "
        f"Python {info['python']}, Salt {info['salt']}, salt-factories {info['salt_factories']}\n"
        f"contention: {describe(info['at_start'])} at the start, "
        f"{describe(info.get('at_end', info['at_start']))} at the end"
    )


def describe(sample):
    running = "a test run ALSO RUNNING" if sample["test_suite_running"] else "no test run"
    return f"load {sample['load_average']:.2f}, {running}"


def verdict(row):
    if row.met is None:
        return "-"
    return "met" if row.met else "MISSED"


def table(rows):
    cells = [[getattr(row, name) if name != "verdict" else verdict(row) for name, _ in COLUMNS] for row in rows]
    titles = [title for _, title in COLUMNS]
    widths = [max(len(str(line[i])) for line in cells + [titles]) for i in range(len(titles))]
    lines = [" | ".join(t.ljust(w) for t, w in zip(titles, widths, strict=True)), "-+-".join("-" * w for w in widths)]
    for row, line in zip(rows, cells, strict=True):
        lines.append(" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)))
        if row.note:
            lines.append(" " * 4 + f"note: {row.note}")
    return "\n".join(lines)


def write_json(path, info, settings, rows, seconds_taken):
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": info,
        "settings": {
            "quick": settings.quick,
            "reps": settings.reps,
            "fanout_reps": settings.fanout_reps,
            "fanout_sizes": list(settings.fanout_sizes),
            "memory_pairs": settings.memory_pairs,
            "sections": [section for section in SECTIONS if section in settings.sections],
        },
        "seconds": seconds_taken,
        "rows": [dataclasses.asdict(row) for row in rows],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
