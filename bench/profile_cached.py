"""Where the time of `salt-run assist.report source=cache` goes at many minions: the
runner's parts, timed one by one over a master's real keys and cache, beside salt-run
whole.

    .venv/bin/python bench/profile_cached.py              # 10,000 minions, localfs
    .venv/bin/python bench/profile_cached.py --backend redis --size 1000

Starts a master of its own and writes its keys and mine answers as bench/cached.py does
(bench/cache_writer.py), then, medians of 5: `salt-run test.arg` and `salt-run
assist.report source=cache` whole, and in this process, over the master's options, what
the report calls: the target (the master's matcher, CkMinions.check_minions), the
answers (read_mine: one fetch per minion through salt.cache), then cached_answers and
summarise (the runner's own code).
"""

import argparse
import importlib.util
import pathlib
import shutil
import sys
import tempfile
import time

import common  # noqa: F401  (sets the import path first)
from cached import BACKENDS, audit_answer, scale_master, write_minions
from common import REPO, median, timed

REPS = 5


def load_runner(opts):
    """The runner module from _runners/assist.py, given the master's options."""
    spec = importlib.util.spec_from_file_location("assist_runner", REPO / "_runners" / "assist.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    runner.__opts__, runner.__context__ = opts, {}
    return runner


def parts(opts, runner):
    """Seconds of each part of one cached report, in the order the runner runs them."""
    import salt.cache
    import salt.utils.minions

    took = {}
    took["target (CkMinions)"], targeted = timed(lambda: salt.utils.minions.CkMinions(opts).check_minions("*", "glob")["minions"])
    took["answers (read_mine: fetch each)"], entries = timed(runner.read_mine, salt.cache.factory(opts), targeted)
    took["cached_answers"], (answers, _, _) = timed(runner.cached_answers, entries, time.time())
    took["summarise"], _ = timed(runner.summarise, targeted, answers, "never")
    return took


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--backend", choices=list(BACKENDS), default="localfs")
    args = parser.parse_args(argv)
    import salt.config

    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        with scale_master(work, args.backend) as fleet:
            write_minions(fleet, audit_answer(work), 1, args.size)
            whole = {name: [] for name in ("test.arg", "assist.report source=cache")}
            for _ in range(REPS):
                for name in whole:
                    whole[name].append(timed(fleet.salt_run, name.split())[0])
            opts = salt.config.master_config(str(pathlib.Path(fleet.master.config_dir) / "master"))
            runner = load_runner(opts)
            samples = [parts(opts, runner) for _ in range(REPS)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.size:,} minions, {args.backend}, medians of {REPS}:")
    for name, values in whole.items():
        print(f"  salt-run {name}: {median(values):.3f} s")
    for name in samples[0]:
        print(f"  {name}: {median([sample[name] for sample in samples]):.3f} s")


if __name__ == "__main__":
    sys.exit(main())
