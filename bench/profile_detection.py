"""Evidence for row 1 (detection): where a cold detection spends its time, against the
floor of reading /sbin/init and looking for the markers, and the vendor's checks.

    .venv/bin/python bench/profile_detection.py
"""

import cProfile
import os
import pstats
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


def read_whole(path):
    """As assist_facts.init_marker reads the file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


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
        "  open + read": per_call_us(lambda: read_whole(init)),
        "  marker scans (to the first hit)": per_call_us(
            lambda: scans_as_the_module_does(module.facts.INIT_MARKERS, content)),
    }


def vendor_ms(root):
    commands = detection.vendor_commands(detection.init_binary(root))
    return per_call_us(lambda: detection.run_vendor(commands), number=20) / 1000


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
        floor = now["  open + read"] + now["  marker scans (to the first hit)"]
        print(f"speed-up vs vendor: {vendor * 1000 / now['cold init_system()']:.0f}x, "
              f"floor (read + scans only) {vendor * 1000 / floor:.0f}x\n")


if __name__ == "__main__":
    main()
