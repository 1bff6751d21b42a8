#!py
"""Roll the `assist` state out: the canary minions first, then the rest in waves, an
audit (salt-run assist.report, strict) after each step, a report of the whole target at
the end. Each step first refreshes its minions' pillar, so that a policy changed in
pillar is the one its audit, and afterwards the minion's beacon and mine, judge by.
The first failing step halts the rollout (failhard, and each step requires the audit
before it): the minions not yet reached are not touched, and salt-run exits non-zero.

  salt-run state.orchestrate assist.orch.rollout \\
    pillar='{"assist_rollout": {"target": "web-* or G@role:web", "canary": ["web-1"], "batch": "25%"}}'

The runner assist.plan checks the pillar (a bad value names the key in the one step
rendered then, assist-rollout-refused, which fails) and plans the minions that answer
a test.ping to the target now, at every level under syndics; a silent one refuses the
rollout before any step.

The plan is called here, through a runner loader of this process, not through
saltutil.runner: that leaves its runner client to the garbage collector, whose
finalizer on Salt 3008 imports modules and can break the next step (docs/fleet.md,
"Known issues")."""

# The py renderer binds `salt` to the execution functions: the loader goes by another name.
import salt.loader as salt_loader


def _plan(rollout):
    """assist.plan's answer, or the words that refuse the rollout."""
    runners = salt_loader.runner(__opts__, utils=salt_loader.utils(__opts__))
    if "assist.plan" not in runners:
        return "assist.plan is not among the master's runners; sync the runners: salt-run saltutil.sync_runners"
    plan = runners["assist.plan"](rollout=rollout)
    return plan["error"] + "; nothing was changed" if "error" in plan else plan


def _refused(words):
    # One failing step, said in words, and no other: the py renderer would show a
    # traceback for an exception.
    return {"assist-rollout-refused": {"test.fail_without_changes": [{"name": words}, {"comment": words}]}}


def run():
    plan = _plan(__pillar__.get("assist_rollout"))
    if isinstance(plan, str):
        return _refused(plan)
    steps = ([["canary", plan["canary"]]] if plan["canary"] else []) + [
        [f"wave-{number}", wave] for number, wave in enumerate(plan["waves"], 1)
    ]
    high = {}
    before = None
    for name, minions in steps:
        # The step's minions take the new pillar into memory first: a state run compiles
        # its own and leaves the minion's copy as it was, and that copy is what the audit
        # after the step, the beacon and the mine judge by. The minions of later steps
        # keep theirs, so no beacon reports them drifted before their turn.
        refresh = [
            {"name": "saltutil.refresh_pillar"},
            {"tgt": minions},
            {"tgt_type": "list"},
            {"kwarg": {"wait": True}},
            {"failhard": True},
        ]
        if before:
            refresh.append({"require": [{"salt": f"assist-rollout-{before}-audit"}]})
        high[f"assist-rollout-{name}-pillar"] = {"salt.function": refresh}
        high[f"assist-rollout-{name}"] = {
            "salt.state": [
                {"name": f"{name}: {', '.join(minions)}"},
                {"tgt": minions},
                {"tgt_type": "list"},
                {"sls": "assist"},
                {"failhard": True},
                {"require": [{"salt": f"assist-rollout-{name}-pillar"}]},
            ]
        }
        high[f"assist-rollout-{name}-audit"] = {
            "salt.runner": [
                {"name": "assist.report"},
                {"tgt": minions},
                {"tgt_type": "list"},
                {"strict": True},
                {"failhard": True},
                {"require": [{"salt": f"assist-rollout-{name}"}]},
            ]
        }
        before = name
    report = [{"name": "assist.report"}, {"tgt": plan["target"]}, {"tgt_type": "compound"}, {"strict": True}]
    if before:
        report.append({"require": [{"salt": f"assist-rollout-{before}-audit"}]})
    high["assist-rollout-report"] = {"salt.runner": report}
    return high
