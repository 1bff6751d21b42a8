"""The client's processes (program_pids): real processes started here, one of them
chrooted, one a zombie."""

import os
import subprocess
import sys
import time

from tests.unit.conftest import assist_process


def test_a_process_in_another_root_is_not_this_systems(tmp_path):
    # A container's or chroot's agent runs the same path; from the host it is not the
    # host's own, and a stop on the host must neither count nor kill it.
    program = tmp_path / "aliyun-service"
    program.write_text(
        "import os, sys, time\nif len(sys.argv) > 1:\n    os.chroot(sys.argv[1])\nprint(flush=True)\ntime.sleep(60)\n"
    )
    jail = tmp_path / "jail"
    jail.mkdir()
    # Without root, chroot(2) is allowed in a user namespace of the process's own.
    own_root = [] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user"]
    here = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE)
    chrooted = subprocess.Popen([*own_root, sys.executable, str(program), str(jail)], stdout=subprocess.PIPE)
    try:
        for proc in (here, chrooted):
            assert proc.stdout.readline() == b"\n"  # started, and chrooted where asked
        assert assist_process.program_pids(str(program)) == [here.pid]
    finally:
        for proc in (here, chrooted):
            proc.kill()
            proc.wait()


def test_a_zombie_is_not_a_live_process(tmp_path):
    # A client killed but not yet reaped by its parent must not count as running.
    program = tmp_path / "aliyun-service"
    program.write_text("import time\nprint(flush=True)\ntime.sleep(60)\n")
    live = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE)
    dead = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE)
    try:
        for proc in (live, dead):
            proc.stdout.readline()
        dead.kill()
        assert wait_until_zombie(dead.pid)
        assert assist_process.program_pids(str(program)) == [live.pid]
    finally:
        for proc in (live, dead):
            proc.kill()
            proc.wait()


def wait_until_zombie(pid, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            if handle.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return True
        time.sleep(0.01)
    return False
