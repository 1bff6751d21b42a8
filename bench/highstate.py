"""4. Highstate cost: `state.apply assist` on an already-compliant minion against
`state.apply empty` (an empty SLS in the bench file root) on the same minion."""

from common import Row, log, median, median_said

GOAL = 0.3  # seconds more, at most


def compliant(value):
    """Every state succeeded and changed nothing."""
    return isinstance(value, dict) and value and all(state["result"] is True and not state["changes"] for state in value.values())


def empty(value):
    return value == {}


def measure(fleet, name, reps):
    runs = {"assist": compliant, "empty": empty}
    for sls, check in runs.items():  # warm-up: file client cache filled
        fleet.call([name], "state.apply", sls, check=check)
    samples = {sls: [] for sls in runs}
    for rep in range(reps):
        order = list(runs) if rep % 2 == 0 else list(reversed(runs))
        for sls in order:
            samples[sls].append(fleet.call([name], "state.apply", sls, check=runs[sls]))
    return samples["assist"], samples["empty"]


def rows(fleet, name, reps):
    log(f"highstate cost on {name}")
    assist, empty_sls = measure(fleet, name, reps)
    more = median(assist) - median(empty_sls)
    return [
        Row(
            key="highstate",
            measure="4 state.apply, compliant",
            subject=median_said("assist", assist),
            baseline=median_said("empty.sls", empty_sls),
            figure=f"{more:+.3f} s ({median(assist) / median(empty_sls):.2f}x)",
            goal=f"<= +{GOAL} s",
            met=more <= GOAL,
            data={"assist_seconds": assist, "empty_seconds": empty_sls, "difference": more},
        )
    ]
