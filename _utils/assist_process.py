"""
Commands and processes: a command run as an argument list through Salt's ``cmd.run_all``
with a timeout (a failure names the step, the command, its exit code and output), and
the live processes of a program, read from ``/proc``.
"""

import logging
import os

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)


def run(funcs, cfg, argv, step, ok=(0,)):
    """Run one command as an argument list; a failure names the step and the command."""
    log.debug("assist: %s: %s", step, " ".join(argv))
    try:
        ret = funcs["cmd.run_all"](
            argv,
            python_shell=False,
            timeout=cfg["timeout"],
            ignore_retcode=True,
            output_loglevel="debug",
            env={"LC_ALL": "C"},
        )
    except CommandExecutionError as exc:  # Salt could not start the program at all
        raise CommandExecutionError(f"{step} failed: `{' '.join(argv)}` could not run: {exc}") from exc
    if ret["retcode"] not in ok:
        said = (ret.get("stderr") or ret.get("stdout") or "no output").strip()
        raise CommandExecutionError(f"{step} failed: `{' '.join(argv)}` exited {ret['retcode']}: {said}")
    return ret


def program_pids(path):
    """Live pids of this system whose program (argv[0], or argv[1] after an interpreter)
    is ``path``, or, when ``path`` is a callable, whose program it accepts. Zombies are
    not alive, and a process of a container or chroot (another root directory) is not
    this system's, even where its program has the same path.

    Read from /proc directly: psutil would do, but salt-ssh's thin archive does not
    carry it, and the module must load agentless too."""
    match = path if callable(path) else path.__eq__
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")[:2]
        except OSError:  # gone meanwhile
            continue
        # A zombie's cmdline reads empty; one that died since is caught by _alive.
        if any(match(arg.decode("utf-8", "replace")) for arg in argv) and _alive(entry) and _same_root(entry):
            found.append(int(entry))
    return sorted(found)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # gone meanwhile
        return False


def _same_root(pid):
    try:
        return os.readlink(f"/proc/{pid}/root") == os.readlink("/proc/self/root")
    except PermissionError:  # a minion that is not root cannot tell: count it
        return True
    except OSError:  # gone meanwhile
        return False


# --------------------------------------------------------------------------- detection
