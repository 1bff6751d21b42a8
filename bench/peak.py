"""Run a command and write its own peak RSS (KB) to a file; exit with its exit status.

    python -S bench/peak.py OUT PROGRAM [ARGUMENT ...]

Why not wait4 on the bench's own child: Linux counts into a process's peak RSS the
memory of the process it was forked from, up to its exec, so a command started by the
bench (a large process) would show at least the bench's own peak. Here the command is
forked from this small process, and waited for by it.
"""

import os
import sys


def main(argv):
    out, command = argv[0], argv[1:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as handle:
        handle.write(f"{usage.ru_maxrss}\n")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
