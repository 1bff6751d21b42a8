"""1. Init system detection: the module's cold detection against the vendor's pipeline.

Both read Debian's real init binaries (packages systemd + systemd-sysv, and
sysvinit-core, unpacked once by the unit tier's helper into ~/.cache/assist-salt/debs).

* module: ``assist.init_system()`` with an empty ``__context__`` every call, so
  settings are validated and ``_detect`` runs in full (no cached answer);
* vendor: ``strings /sbin/init | grep -q /lib/system`` as a shell pipeline, on the
  same file (the tree's /sbin/init with its symbolic link resolved inside the tree).
"""

import os
import shlex
import subprocess
import tempfile

from common import Row, log, median, seconds, timed
import plainmodule
from tests.unit.conftest import unpack_debian_packages

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


def vendor_command(binary):
    return f"strings {shlex.quote(binary)} | grep -q /lib/system"


def run_vendor(command):
    """The vendor's pipeline, by the shell, as documented (hence shell=True)."""
    return subprocess.run(command, shell=True, check=False).returncode  # noqa: S602


def module_sample(module):
    """Seconds per cold detection, averaged over a batch."""

    def batch():
        for _ in range(MODULE_CALLS_PER_SAMPLE):
            module.__context__ = {}
            answer = module.init_system()
        return answer

    elapsed, answer = timed(batch)
    return elapsed / MODULE_CALLS_PER_SAMPLE, answer


def vendor_sample(command):
    def batch():
        return [run_vendor(command) for _ in range(VENDOR_CALLS_PER_SAMPLE)]

    elapsed, codes = timed(batch)
    return elapsed / VENDOR_CALLS_PER_SAMPLE, codes[0]


def measure_tree(name, root, reps, cachedir):
    module = plainmodule.load({"root": str(root)}, cachedir, refuse_commands)
    command = vendor_command(init_binary(root))
    module_samples, vendor_samples = [], []
    for _ in range(reps):  # interleaved, so drift on the machine hits both alike
        took, answer = module_sample(module)
        module_samples.append(took)
        took, code = vendor_sample(command)
        vendor_samples.append(took)
    if answer != name:
        raise RuntimeError(f"the module detected {answer!r} on Debian's {name} tree")
    return module_samples, vendor_samples, command, code


def run(settings):
    rows = []
    with tempfile.TemporaryDirectory(dir=settings.work) as cachedir:
        for name, (cache_name, packages) in TREES.items():
            log(f"detection on Debian's {name} /sbin/init")
            root = unpack_debian_packages(cache_name, packages)
            module_s, vendor_s, command, code = measure_tree(name, root, settings.reps, cachedir)
            speedup = median(vendor_s) / median(module_s)
            rows.append(
                Row(
                    key=f"detection_{name}",
                    measure=f"1 detection, {name} /sbin/init",
                    subject=f"module {seconds(median(module_s))}",
                    baseline=f"strings|grep {seconds(median(vendor_s))}",
                    figure=f"{speedup:.0f}x faster",
                    goal=f">= {GOAL:.0f}x faster",
                    met=speedup >= GOAL,
                    data={
                        "module_seconds": module_s,
                        "vendor_seconds": vendor_s,
                        "vendor_command": command,
                        "vendor_exit": code,
                        "speedup": speedup,
                    },
                )
            )
    return rows
