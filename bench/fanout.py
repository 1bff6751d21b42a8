"""3. Fan-out: `salt '*' assist.status` against `salt '*' test.ping`, wall time of the
salt CLI, on the same 1, 5, 10, 20 minions (started in batches as the fleet grows)."""

from common import Row, log, median, seconds

GOAL = 1.25  # at the largest fleet


def is_status(value):
    return isinstance(value, dict) and value.get("client", {}).get("running") is True


def is_pong(value):
    return value is True


CHECKS = {"test.ping": is_pong, "assist.status": is_status}


def measure(fleet, names, reps):
    """Interleaved: ping, status, status, ping, ... so that drift hits both alike."""
    fleet.call_all(names, "assist.status", is_status)  # warm-up, and all minions answer
    samples = {function: [] for function in CHECKS}
    for rep in range(reps):
        order = list(CHECKS) if rep % 2 == 0 else list(reversed(CHECKS))
        for function in order:
            samples[function].append(fleet.call_all(names, function, CHECKS[function]))
    return samples["assist.status"], samples["test.ping"]


def row(size, status, ping, largest):
    ratio = median(status) / median(ping)
    return Row(
        key=f"fanout_{size}",
        measure=f"3 fan-out, {size} minion{'s' if size > 1 else ''}",
        subject=f"assist.status {seconds(median(status))}",
        baseline=f"test.ping {seconds(median(ping))}",
        figure=f"{ratio:.2f}x",
        goal=f"<= {GOAL}x" if size == largest else "(goal at the largest)",
        met=(ratio <= GOAL) if size == largest else None,
        data={"status_seconds": status, "ping_seconds": ping, "ratio": ratio},
    )


def grow_and_measure(fleet, settings, at_size=None):
    """Rows for every fleet size; at_size(size, names) runs in between (highstate at 1)."""
    rows, names = [], []
    largest = max(settings.fanout_sizes)
    for size in settings.fanout_sizes:
        new = [f"bench-{n:02d}" for n in range(len(names) + 1, size + 1)]
        fleet.add_minions(new)
        names += new
        if at_size:
            rows += at_size(size, names)
        log(f"fan-out on {size} minion(s)")
        status, ping = measure(fleet, names, settings.fanout_reps)
        rows.append(row(size, status, ping, largest))
    return rows
