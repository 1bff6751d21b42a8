"""Run a command on this host as it looks with systemd installed but not booted, without
touching the host: run by ``unshare --mount``, so every mount below is seen by the
command alone.

    unshare --mount python unbooted_systemd.py SYSTEMD_BINARY WORK_DIR -- COMMAND...

- /sbin/init holds the bytes of SYSTEMD_BINARY (an overlay on the folder /sbin resolves
  to, so the rest of that folder stays as it is, and a host without /sbin/init gets one);
- /run/systemd, when the host has it, is an empty tmpfs: no /run/systemd/system, which is
  how systemd (and Salt's ``salt.utils.systemd.booted``) tells that it runs.
"""

import os
import shutil
import subprocess
import sys


def mount(*args):
    subprocess.run(["mount", *args], check=True)


def main(systemd_binary, work, command):
    sbin = os.path.realpath("/sbin")
    upper, scratch = os.path.join(work, "upper"), os.path.join(work, "scratch")
    os.makedirs(upper)
    os.makedirs(scratch)
    shutil.copyfile(systemd_binary, os.path.join(upper, "init"))
    os.chmod(os.path.join(upper, "init"), 0o755)
    mount("-t", "overlay", "overlay", "-o", f"lowerdir={sbin},upperdir={upper},workdir={scratch}", sbin)
    if os.path.isdir("/run/systemd"):
        mount("-t", "tmpfs", "tmpfs", "/run/systemd")
    os.execv(command[0], command)


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(f"usage: {sys.argv[0]} SYSTEMD_BINARY WORK_DIR -- COMMAND...")
    main(sys.argv[1], sys.argv[2], sys.argv[4:])
