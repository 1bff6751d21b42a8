"""Evidence for row 1 (detection): where a cold ``assist.init_system()`` spends its
time, split into the real functions it calls in _utils (nothing re-implemented here),
against the vendor's checks.

    .venv/bin/python bench/profile_detection.py

For Debian's systemd and sysvinit trees, as an image at ``assist:lookup:root``:
a cProfile of cold calls, then the best-of-7 time per call of
``assist.init_system()``, ``assist_settings.load``, ``assist_init.detect``,
``assist_settings.resolve`` (the link walk inside the root) and ``assist_init.init_marker``
(one read of the file and the marker search), and the vendor's pipelines.
"""

import cProfile
import pstats
import sys
import tempfile
import timeit

import common  # noqa: F401  (sets the import path first)
import detection
import plainmodule

from tests.support.debs import unpack_debian_packages

CALLS = 3000


def per_call_us(function, number=CALLS):
    """The best of 7 batches, in microseconds per call (the least disturbed figure)."""
    return min(timeit.repeat(function, number=number, repeat=7)) / number * 1e6


def cold(module):
    def call():
        module.__context__ = {}
        return module.init_system()

    return call


def breakdown(module, lookup):
    init, settings = plainmodule.init(), plainmodule.settings()
    cfg = settings.load(lookup)
    return {
        "cold assist.init_system()": per_call_us(cold(module)),
        "  assist_settings.load": per_call_us(lambda: settings.load(lookup)),
        "  assist_init.detect": per_call_us(lambda: init.detect(cfg, module.__salt__, {})),
        "    assist_settings.resolve (/sbin/init in root)": per_call_us(lambda: settings.resolve(cfg["root"], cfg["init_path"])),
        "    assist_init.init_marker (read + markers)": per_call_us(lambda: init.init_marker(cfg["root"], cfg["init_path"])),
    }


def vendor_ms(root):
    commands = detection.vendor_commands(detection.init_binary(root))
    return per_call_us(lambda: detection.run_vendor(commands), number=20) / 1000


def profile(module):
    profiler = cProfile.Profile()
    call = cold(module)
    profiler.enable()
    for _ in range(CALLS):
        call()
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(10)


def main():
    cachedir = tempfile.mkdtemp()
    for name, (cache_name, packages) in detection.TREES.items():
        root = unpack_debian_packages(cache_name, packages)
        lookup = {"root": str(root)}
        module = plainmodule.load(lookup, cachedir, detection.refuse_commands)
        print(f"===== {name}: cProfile of {CALLS} cold detections")
        profile(module)
        vendor = vendor_ms(root)
        print(f"vendor pipeline: {vendor:.2f} ms (best of 7 batches of 20)")
        times = breakdown(module, lookup)
        for label, value in times.items():
            print(f"{label:46s} {value:7.1f} µs")
        print(f"speed-up vs vendor: {vendor * 1000 / times['cold assist.init_system()']:.0f}x\n")


if __name__ == "__main__":
    main()
