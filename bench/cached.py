"""6. The cached report, `salt-run assist.report source=cache`, against Salt's own readers
measured in the same run:

  at the fan-out's largest fleet (100 real minions; --quick: 20), against the live
  `salt-run assist.report` on the same minions, once every minion's answer is in the
  master's cache (`salt '*' mine.send assist.mine_audit`, checked for each minion);
  at 1,000 and 10,000 minions, on a master of its own whose accepted keys and mine
  answers are written as the master writes them (bench/cache_writer.py), on `localfs`
  and on a redis-server the bench starts (a unix socket, nothing saved): against
  `salt-run mine.get '*' assist.mine_audit` over the same cache, and under 2 s in all,
  salt-run's start included;
  the memory the runner adds at 10,000: the salt-run process's peak RSS for the cached
  report minus its peak for `salt-run test.arg` (Salt's own start, the same keys listed).

Wall time of the salt-run command; medians of interleaved repetitions.
"""

import contextlib
import json
import subprocess
import sys

from common import BENCH, Row, env_without_pythonpath, error_row, log, median, seconds, timed
from fanout import check_runner
from fleet import Fleet, runner_error, runner_value
from inproc import Worker

from tests.support.fakeagent import wait_until

LIVE_GOAL = 10.0  # the cached report at least this many times faster than the live one
LIVE_GOAL_SIZE = 100  # ... on this many minions
SCALE_SIZES = (1_000, 10_000)
TIME_GOAL = 2.0  # seconds, at the largest scale size
MINE_GET_GOAL = 0.5  # at most this share of salt-run mine.get's time
MEMORY_GOAL_MB = 200.0
MINE_FUNCTION = "assist.mine_audit"
CACHED = ["assist.report", "source=cache"]  # salt-run's arguments for the cached report
# Each backend's master options (docs/fleet.md, "Several masters on Redis"); the socket
# is filled in when the server runs.
BACKENDS = {
    "localfs": {},
    "redis": {"cache": "redis", "preserve_minion_cache": True},
}
# What each row at scale compares, in the row's name.
SCALE_KINDS = {"vs_mine_get": "vs mine.get", "time": "time", "memory": "memory added"}
# The salt-run commands timed at scale, each with the check of its answer for `size`
# minions written.
SCALE_RUNS = {
    "cached report": CACHED,
    "mine.get": ["mine.get", "*", MINE_FUNCTION],
    "test.arg": ["test.arg"],
}


# --------------------------------------------------------------------------- 100 real minions


def counts_each(value, size):
    """Whether a cached report's answer counts a good answer from each of `size` minions."""
    return (
        isinstance(value, dict)
        and value.get("summary", {}).get("answered") == size
        and not value.get("never")
        and not value.get("errors")
    )


def fill_mine(fleet, names, tries=3, wait=60):
    """Every minion sends its answer to the mine, and the cache holds all of them. A
    minion that lost the publish (100 minions on 2 cores) is asked again."""
    for attempt in range(1, tries + 1):
        fleet.salt("*", "mine.send", MINE_FUNCTION, cli_timeout=60)
        if wait_until(lambda: counts_each(runner_value(fleet.salt_run(CACHED)), len(names)), timeout=wait, interval=2):
            return
        log(f"mine.send: not every answer is in the cache yet, try {attempt} of {tries}")
    raise runner_error(fleet.salt_run(CACHED))


def report_call(fleet, names, source):
    """One report from `source`, checked: (seconds, the answers' median age or None)."""
    if source == "live":
        took, done = timed(fleet.salt_run, ["assist.report"])
        check_runner("assist.report", names, done)
        return took, None
    took, done = timed(fleet.salt_run, CACHED)
    value = runner_value(done)
    if not counts_each(value, len(names)):
        raise runner_error(done)
    return took, median(value["ages"].values())


def live_rows(fleet, names, reps):
    """The cached report against the live one on the same real minions, interleaved. A
    live report that lost a minion's answer (100 minions on 2 cores) is not timed; the
    row counts it."""
    size = len(names)
    log(f"cached report against the live one on {size} minions")
    fill_mine(fleet, names)
    sources = ("live", "cache")
    for source in sources:  # warm-up, and both answer well
        report_call(fleet, names, source)
    samples, ages, failed = {source: [] for source in sources}, [], {source: [] for source in sources}
    for rep in range(reps):
        for source in sources if rep % 2 == 0 else sources[::-1]:
            try:
                took, age = report_call(fleet, names, source)
            except RuntimeError as exc:
                log(f"{source} report on {size} minions: {exc}")
                failed[source].append(str(exc)[:500])
                continue
            samples[source].append(took)
            ages += [age] if age is not None else []
    if not samples["live"] or not samples["cache"]:
        raise RuntimeError(f"every report from some source failed on {size} minions: {failed}")
    live, cache = median(samples["live"]), median(samples["cache"])
    goal_here = size == LIVE_GOAL_SIZE
    lost = ", ".join(f"{source} {len(failed[source])}" for source in sources if failed[source])
    row = Row(
        key=f"cached_vs_live_{size}",
        measure=f"6 cached report vs live, {size} minions",
        subject=f"source=cache {seconds(cache)}",
        baseline=f"live {seconds(live)}",
        figure=f"{live / cache:.1f}x faster",
        goal=f">= {LIVE_GOAL:.0f}x faster" if goal_here else f"(goal at {LIVE_GOAL_SIZE} minions)",
        met=(live / cache >= LIVE_GOAL) if goal_here else None,
        note=f"every minion's answer in the cache first (mine.send); the answers' median age "
        f"{median(ages):.0f} s when read" + (f"; reports that lost an answer (not timed): {lost}" if lost else ""),
        data={
            "live_seconds": samples["live"],
            "cache_seconds": samples["cache"],
            "speedup": live / cache,
            "ages": ages,
            "failed": failed,
        },
    )
    return [row]


# --------------------------------------------------------------------------- 1,000 and 10,000


def audit_answer(work):
    """A file holding one answer of assist.mine_audit: the module's own, in Salt's loader
    on a fake agent (bench/inproc_worker.py)."""
    folder = work / "answer"
    folder.mkdir(parents=True)
    worker = Worker(folder, folder / "worker.log")
    try:
        worker.request("fresh")
        answer = worker.request("call", function="mine_audit")["result"]
    finally:
        worker.close()
    if not isinstance(answer, dict) or not isinstance(answer.get("audit"), dict):
        raise RuntimeError(f"assist.mine_audit did not answer an audit: {answer!r:.300}")
    path = folder / "answer.json"
    path.write_text(json.dumps(answer))
    return path


@contextlib.contextmanager
def redis_server(folder, timeout=10):
    """A redis-server of the bench's own on a unix socket only (port 0: no TCP), nothing
    saved; yields the socket's path and stops the server, also on failure."""
    folder.mkdir(parents=True)
    socket = folder / "redis.sock"
    argv = ["redis-server", "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700"]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
    with open(folder / "redis.log", "wb") as out:
        server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        if not wait_until(socket.exists, timeout=timeout):
            raise RuntimeError(f"redis-server did not open {socket} within {timeout} s (its log: {folder / 'redis.log'})")
        yield socket
    finally:
        server.terminate()
        try:
            server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextlib.contextmanager
def scale_master(work, backend):
    """A running salt-master (no minion) whose cache is `backend`; stopped on leaving,
    with its redis-server."""
    with contextlib.ExitStack() as stack:
        config = dict(BACKENDS[backend])
        if backend == "redis":
            config["cache.redis.unix_socket_path"] = str(stack.enter_context(redis_server(work / "redis")))
        fleet = Fleet(work / "master", master_config=config)
        stack.callback(fleet.stop)
        fleet.start()
        yield fleet


def write_minions(fleet, answer, first, last):
    """Accepted keys and mine answers of bench-<first> .. bench-<last>
    (bench/cache_writer.py, in a process of its own)."""
    argv = [sys.executable, str(BENCH / "cache_writer.py"), str(fleet.master.config_dir), str(answer), str(first), str(last)]
    took, done = timed(
        subprocess.run, argv, capture_output=True, text=True, timeout=900, check=False, env=env_without_pythonpath()
    )
    if done.returncode != 0:
        raise RuntimeError(f"cache_writer.py {first}..{last}: exit {done.returncode}: {done.stderr.strip()[-600:]}")
    log(f"{last - first + 1} keys and answers written in {took:.1f} s: {done.stdout.strip()}")


def check_scale(name, size, done):
    """The answer of one timed command covers exactly the `size` minions written."""
    value = runner_value(done)
    good = {
        "cached report": counts_each(value, size),
        "mine.get": isinstance(value, dict) and len(value) == size,
        "test.arg": isinstance(value, dict),
    }[name]
    if not good:
        raise runner_error(done)


def measure_scale(fleet, size, reps):
    """{name: [(seconds, salt-run peak MB), ...]}, interleaved, the order turned by one
    each repetition; a warm-up call of each first."""
    names = list(SCALE_RUNS)
    for name in names:
        check_scale(name, size, fleet.salt_run(SCALE_RUNS[name], timeout=600))
    samples = {name: [] for name in names}
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            took, done = timed(fleet.salt_run, SCALE_RUNS[name], 600)
            check_scale(name, size, done)
            samples[name].append((took, done.peak_mb))
    return samples


def med_seconds(samples, name):
    return median([took for took, _ in samples[name]])


def med_peak(samples, name):
    return median([peak for _, peak in samples[name]])


def raw(samples):
    return {name: [{"seconds": took, "salt_run_peak_mb": peak} for took, peak in values] for name, values in samples.items()}


def scale_row(kind, backend, size, compared, verdict, note, data):
    """One row at scale, named by what it compares (a key of SCALE_KINDS), the backend
    and the size: `compared` is (subject, baseline, figure), `verdict` (goal, met)."""
    key, measure = f"cached_{kind}_{backend}_{size}", f"6 cached report {SCALE_KINDS[kind]}, {size:,} minions, {backend}"
    return Row(key, measure, *compared, *verdict, note, data)


def mine_get_row(backend, size, samples):
    report, mine_get = med_seconds(samples, "cached report"), med_seconds(samples, "mine.get")
    ratio = report / mine_get
    compared = (f"source=cache {seconds(report)}", f"mine.get {seconds(mine_get)}", f"{ratio:.2f}x")
    note = f"salt-run test.arg at this size: {seconds(med_seconds(samples, 'test.arg'))}"
    verdict = (f"<= {MINE_GET_GOAL}x", ratio <= MINE_GET_GOAL)
    return scale_row("vs_mine_get", backend, size, compared, verdict, note, {"ratio": ratio, "samples": raw(samples)})


def time_row(backend, size, samples):
    report, start = med_seconds(samples, "cached report"), med_seconds(samples, "test.arg")
    compared = (f"source=cache {seconds(report)}", f"test.arg {seconds(start)}", f"{report:.2f} s")
    note = (
        f"salt-run's start included; salt-run test.arg, Salt's own start with these keys: {seconds(start)}, "
        f"so the report's own work: {seconds(report - start)}"
    )
    verdict = (f"< {TIME_GOAL:.0f} s", report < TIME_GOAL)
    return scale_row("time", backend, size, compared, verdict, note, {"seconds": report, "test_arg_seconds": start})


def memory_row(backend, size, samples):
    report, base = med_peak(samples, "cached report"), med_peak(samples, "test.arg")
    compared = (f"source=cache {report:.0f} MB", f"test.arg {base:.0f} MB", f"{report - base:+.0f} MB")
    note = f"the salt-run process's own peak RSS (bench/peak.py); mine.get's: {med_peak(samples, 'mine.get'):.0f} MB"
    verdict = (f"< {MEMORY_GOAL_MB:.0f} MB", report - base < MEMORY_GOAL_MB)
    data = {"report_peak_mb": report, "test_arg_peak_mb": base, "added_mb": report - base}
    return scale_row("memory", backend, size, compared, verdict, note, data)


def backend_rows(settings, backend, answer):
    """The rows of one backend, at each scale size; the sizes before a failure keep theirs."""
    rows, written = [], 0
    with scale_master(settings.work / f"scale-{backend}", backend) as fleet:
        for size in SCALE_SIZES:
            try:
                write_minions(fleet, answer, written + 1, size)
                written = size
                log(f"cached report at {size} minions on {backend}: {', '.join(SCALE_RUNS)}")
                samples = measure_scale(fleet, size, settings.reps)
            except Exception as exc:
                return rows + [error_row(f"6 cached report, {size:,} minions, {backend}", exc)]
            rows.append(mine_get_row(backend, size, samples))
            if size == SCALE_SIZES[-1]:
                rows += [time_row(backend, size, samples), memory_row(backend, size, samples)]
    return rows


def scale_rows(settings):
    """Every backend's rows; a backend that fails leaves an error row, not the others."""
    answer = audit_answer(settings.work / "scale")
    rows = []
    for backend in BACKENDS:
        try:
            rows += backend_rows(settings, backend, answer)
        except Exception as exc:
            rows.append(error_row(f"6 cached report, {backend}", exc))
    return rows
