#!@PYTHON@
"""Fake Cloud Assistant client (aliyun-service).

Source: tests/support/agent/aliyun-service.py, installed by tests/support/fakeagent.py.
"""

import os
import signal
import sys
import time

VERSION = "@VERSION@"
PIDFILE = "@PIDFILE@"


def main(args):
    if args in (["-v"], ["--version"]):
        print(VERSION)
        return 0
    if args:
        print("usage: aliyun-service [-v|--version]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    os.makedirs(os.path.dirname(PIDFILE), exist_ok=True)
    with open(PIDFILE, "w") as f:
        f.write("%d\n" % os.getpid())
    # Like the real agent, the pid file is left behind (stale) when it exits.
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
