"""Run a program where it cannot reach any network.

    subprocess.run(offline.command(["go", "build", "."]), env=env, ...)

The program runs in a new network namespace (`unshare --net`, which needs root)
and starts only after `ip -o link` there has shown loopback and nothing else;
otherwise this file refuses to start it and exits with REFUSED. Loopback stays
down, so even 127.0.0.1 is unreachable: every attempt fails locally and no
packet leaves. The vendor's agent asks the metadata address and Alibaba's
domains as soon as it runs, and its build must not fetch anything either.

Run directly (`python offline.py -- PROGRAM ARGS...`) this file only checks the
namespace it is in and then becomes PROGRAM; command() puts it behind unshare.
"""

from __future__ import annotations

import os
import subprocess
import sys

REFUSED = 97

# For the tests of the refusal: a command prefix that runs a program in a new network
# namespace holding a veth pair besides loopback, made whatever the host's own holds.
WITH_AN_INTERFACE = [
    "unshare",
    "--net",
    "--",
    sys.executable,
    "-c",
    "import os, subprocess, sys; "
    "subprocess.run(['ip', 'link', 'add', 'extra0', 'type', 'veth', 'peer', 'name', 'extra1'], check=True); "
    "os.execvp(sys.argv[1], sys.argv[1:])",
]


def command(argv) -> list:
    """`argv` as a command that runs it in a new network namespace, after the check."""
    return ["unshare", "--net", "--", sys.executable, os.path.abspath(__file__), "--", *argv]


def interfaces(enter=()) -> list[str]:
    """The names of the network interfaces `ip -o link` shows in this namespace, or in
    the one the command prefix `enter` (nsenter ...) goes into."""
    out = subprocess.run([*enter, "ip", "-o", "link"], capture_output=True, text=True, check=True, timeout=30).stdout
    # "1: lo: <LOOPBACK> mtu 65536 ..."; a veth shows as "eth0@if5".
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if line.strip()]


def main(args) -> None:
    if not args or args[0] != "--" or len(args) < 2:
        sys.exit("usage: offline.py -- PROGRAM [ARGS...]")
    argv = args[1:]
    names = interfaces()
    if names != ["lo"]:
        print(
            "offline.py: refusing to run %s: this network namespace has %s, not only lo"
            % (argv[0], ", ".join(names) or "no interface at all"),
            file=sys.stderr,
        )
        sys.exit(REFUSED)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
