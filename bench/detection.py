"""1. Init system detection: the module's cold detection against the vendor's pipeline.

Both read Debian's real init binaries (packages systemd + systemd-sysv, and
sysvinit-core, unpacked once by the unit tier's helper into ~/.cache/assist-salt/debs).

* module: ``assist.init_system()`` with an empty ``__context__`` every call, so
  settings are validated and ``assist_init.detect`` runs in full (no cached answer).
  Measured as a minion runs it on its own files (``root`` ``/``; ``init_path`` set to the binary,
  which the kernel reaches through the /sbin/init link on a real system): the goal row.
  And, for the record, with the tree as an image mounted at ``assist:lookup:root``,
  where /sbin/init's links are followed one by one inside the root (a readlink per
  path component: the difference between the two rows);
* vendor: the document's checks run as it orders them, each a shell pipeline
  ``strings /sbin/init | grep "<marker>"`` on the same file (the tree's /sbin/init with
  its symbolic link resolved inside the tree), until one prints: one pipeline decides
  systemd, three decide sysvinit (``/lib/system`` and ``upstart`` print nothing first).
  That is the work the module replaces; it too looks for the markers in that order.
"""

import os
import shlex
import subprocess
import tempfile

import plainmodule
from common import Row, log, median, median_said, timed

from tests.support.debs import unpack_debian_packages

GOAL = 50.0  # the module at least this many times faster
MODULE_CALLS_PER_SAMPLE = 200  # one call takes well under a millisecond: time a batch
VENDOR_CALLS_PER_SAMPLE = 10

TREES = {
    "systemd": ("systemd", ["systemd", "systemd-sysv"]),
    "sysvinit": ("sysvinit", ["sysvinit-core"]),
}


def refuse_commands(argv, **kwargs):
    raise AssertionError(f"detection must not run a command here, ran {argv}")


def init_binary(root):
    """The tree's /sbin/init with symbolic links followed inside the tree (not the host)."""
    path = "/sbin/init"
    for _ in range(40):
        host = os.path.join(root, path.lstrip("/"))
        if not os.path.islink(host):
            return host
        target = os.readlink(host)
        path = target if target.startswith("/") else os.path.join(os.path.dirname(path), target)
    raise RuntimeError(f"too many links under {root}/sbin/init")


def vendor_commands(binary):
    """The document's checks in its order (the module keeps the same list)."""
    return [f'strings {shlex.quote(binary)} | grep "{marker.decode()}"' for marker, _ in plainmodule.init().INIT_MARKERS]


def run_vendor(commands):
    """The document's pipelines, by the shell as written there (hence shell=True), until
    one prints; returns how many ran."""
    for ran, command in enumerate(commands, 1):
        done = subprocess.run(command, shell=True, check=False, stdout=subprocess.PIPE)  # noqa: S602
        if done.stdout:
            return ran
    return len(commands)


def module_sample(module):
    """Seconds per cold detection, averaged over a batch."""

    def batch():
        for _ in range(MODULE_CALLS_PER_SAMPLE):
            module.__context__ = {}
            answer = module.init_system()
        return answer

    elapsed, answer = timed(batch)
    return elapsed / MODULE_CALLS_PER_SAMPLE, answer


def vendor_sample(commands):
    def batch():
        return [run_vendor(commands) for _ in range(VENDOR_CALLS_PER_SAMPLE)]

    elapsed, ran = timed(batch)
    return elapsed / VENDOR_CALLS_PER_SAMPLE, ran[0]


def measure_tree(name, root, reps, cachedir):
    """Interleaved samples (drift on the machine hits all alike) of the module as a
    minion runs it, the module on the tree as a mounted image, and the vendor's checks."""
    binary = init_binary(root)
    modules = {
        "own": plainmodule.load({"init_path": binary}, cachedir, refuse_commands),
        "image": plainmodule.load({"root": str(root)}, cachedir, refuse_commands),
    }
    commands = vendor_commands(binary)
    samples = {"own": [], "image": [], "vendor": []}
    for _ in range(reps):
        for kind, module in modules.items():
            took, answer = module_sample(module)
            samples[kind].append(took)
            if answer != name:
                raise RuntimeError(f"the module detected {answer!r} on Debian's {name} tree")
        took, ran = vendor_sample(commands)
        samples["vendor"].append(took)
    if plainmodule.init().INIT_MARKERS[ran - 1][1] != name:
        raise RuntimeError(f"the vendor's checks decided wrongly on Debian's {name} tree")
    return samples, commands[:ran]


def detection_row(name, kind, module_s, vendor_s, commands):
    speedup = median(vendor_s) / median(module_s)
    goal_row = kind == "own"
    return Row(
        key=f"detection_{name}" if goal_row else f"detection_{name}_image",
        measure=f"1 detection, {name} /sbin/init" + ("" if goal_row else ", image at assist:lookup:root"),
        subject=median_said("module", module_s),
        baseline=median_said(f"strings|grep x{len(commands)}", vendor_s),
        figure=f"{speedup:.0f}x faster",
        goal=f">= {GOAL:.0f}x faster" if goal_row else "(none given)",
        met=speedup >= GOAL if goal_row else None,
        data={
            "module_seconds": module_s,
            "vendor_seconds": vendor_s,
            "vendor_commands": commands,
            "speedup": speedup,
        },
    )


def run(settings):
    rows = []
    with tempfile.TemporaryDirectory(dir=settings.work) as cachedir:
        for name, (cache_name, packages) in TREES.items():
            log(f"detection on Debian's {name} /sbin/init")
            root = unpack_debian_packages(cache_name, packages)
            samples, commands = measure_tree(name, root, settings.reps, cachedir)
            for kind in ("own", "image"):
                rows.append(detection_row(name, kind, samples[kind], samples["vendor"], commands))
    return rows
