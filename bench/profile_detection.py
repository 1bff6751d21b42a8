"""Evidence for row 1 (detection): where a cold detection spends its time, and what a
proposed change to the product would save. Changes nothing in the product: the proposal
is applied to a copy loaded in this process only.

    .venv/bin/python bench/profile_detection.py
"""

import cProfile
import os
import pstats
import stat
import subprocess
import sys
import tempfile
import timeit

import common  # noqa: F401  (sets the import path first)
import detection
import plainmodule
from tests.unit.conftest import unpack_debian_packages

CALLS = 3000


def per_call_us(function, number=CALLS):
    """The best of 7 batches, in microseconds per call (the least disturbed figure)."""
    return min(timeit.repeat(function, number=number, repeat=7)) / number * 1e6


def cold(module):
    def call():
        module.__context__ = {}
        return module.init_system()
    return call


# ----------------------------------------------------------------- the proposed change


def resolve_proposed(root, path):
    """Like assist_facts.resolve, with plain string joins and one lstat per component,
    and no walk at all for root "/" (the kernel follows the links itself)."""
    if root == "/":
        return path
    pending = [part for part in path.split("/") if part]
    done = ""
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            done = done.rpartition("/")[0]
            continue
        here = f"{root}{done}/{part}"
        try:
            is_link = stat.S_ISLNK(os.lstat(here).st_mode)
        except OSError:
            is_link = False
        if not is_link:
            done = f"{done}/{part}"
            continue
        hops += 1
        if hops > 40:
            raise OSError(f"too many symbolic links resolving {path}")
        target = os.readlink(here)
        if target.startswith("/"):
            done = ""
        pending = [p for p in target.split("/") if p] + pending
    return f"{root}{done}"


def settings_proposed(module):
    """_settings validating only the keys that were given (the defaults are known good)."""
    original = module._settings
    defaults = dict(module.DEFAULTS)
    paths = ("root", "init_path", "sysv_script", "daemon_path", "daemon_dir", "client_dir")

    def settings():
        given = module._given()
        if not given:
            return dict(defaults)
        if set(given) - set(paths):
            return original()  # anything else: the full validation, unchanged
        cfg = dict(defaults, **given)
        for key in given:
            cfg[key] = module._check_path(key, cfg[key])
        if cfg["root"] != "/" and not os.path.isdir(cfg["root"]):
            module._fail("root", cfg["root"], "no such directory")
        if {"daemon_dir", "daemon_path", "client_dir"} & set(given):
            module._check_daemon_dir(cfg)
        return cfg

    return settings


def apply_proposal(module):
    """Returns a function that takes the change back (the facts module is shared)."""
    original = module.facts.resolve
    module.facts.resolve = resolve_proposed
    module._settings = settings_proposed(module)

    def undo():
        module.facts.resolve = original

    return undo


def scans_as_the_module_does(markers, content):
    for marker, _ in markers:
        if marker in content:
            return marker
    return None


# ----------------------------------------------------------------- report


def breakdown(module, root):
    cfg = module._settings()
    init = module.facts.resolve(cfg["root"], cfg["init_path"])
    with open(init, "rb") as handle:
        content = handle.read()
    return {
        "cold init_system()": per_call_us(cold(module)),
        "  _settings()": per_call_us(module._settings),
        "  resolve /sbin/init in root": per_call_us(lambda: module.facts.resolve(cfg["root"], "/sbin/init")),
        "  open + read": per_call_us(lambda: open(init, "rb").read()),
        "  marker scans (to the first hit)": per_call_us(
            lambda: scans_as_the_module_does(module.facts.INIT_MARKERS, content)),
    }


def vendor_ms(root):
    command = detection.vendor_command(detection.init_binary(root))
    return per_call_us(lambda: subprocess.run(command, shell=True), number=20) / 1000  # noqa: S602


def profile(module):
    profiler = cProfile.Profile()
    profiler.enable()
    call = cold(module)
    for _ in range(CALLS):
        call()
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(10)


def main():
    cachedir = tempfile.mkdtemp()
    for name, (cache_name, packages) in detection.TREES.items():
        root = unpack_debian_packages(cache_name, packages)
        module = plainmodule.load({"root": str(root)}, cachedir, detection.refuse_commands)
        print(f"===== {name}: cProfile of {CALLS} cold detections")
        profile(module)
        vendor = vendor_ms(root)
        print(f"vendor pipeline: {vendor:.2f} ms (best of 7 batches of 20)")
        now = breakdown(module, root)
        for label, value in now.items():
            print(f"{label:34s} {value:7.1f} µs")
        undo = apply_proposal(module)
        try:
            assert module.init_system() == name
            proposed = per_call_us(cold(module))
        finally:
            undo()
        floor = now["  open + read"] + now["  marker scans (to the first hit)"]
        print(f"{'cold, with the proposed change':34s} {proposed:7.1f} µs")
        print(f"speed-up vs vendor: now {vendor * 1000 / now['cold init_system()']:.0f}x, "
              f"proposed {vendor * 1000 / proposed:.0f}x, floor (read + scans only) "
              f"{vendor * 1000 / floor:.0f}x\n")


if __name__ == "__main__":
    main()
