"""Folders whose file system refuses changes, for the functional tier: read-only, and full.

Both are real file systems seen through the folder's own path, so the module meets the
system's own errors (EROFS, EACCES, ENOSPC), not a stand-in. The folder's contents look
the same before and after; what a test changed inside a full one is gone afterwards.
"""

import contextlib
import errno
import os
import shutil
import subprocess
import tempfile


def _mount(*args):
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _umount(path):
    done = subprocess.run(["umount", path], capture_output=True)
    if done.returncode:  # a program of the fake agent still holds a file there
        subprocess.run(["umount", "--lazy", path], check=True, capture_output=True)


@contextlib.contextmanager
def read_only(path):
    """``path`` made unwritable; yields the system's words for it. As root a read-only
    bind mount of the folder on itself (root ignores modes); otherwise its folders lose
    their write permission (then the words are "Permission denied")."""
    path = str(path)
    if os.geteuid() != 0:
        folders = [top for top, _, _ in os.walk(path)]
        modes = {folder: os.stat(folder).st_mode for folder in folders}
        for folder in folders:
            os.chmod(folder, modes[folder] & ~0o222)
        try:
            yield os.strerror(errno.EACCES)
        finally:
            for folder in folders:
                os.chmod(folder, modes[folder])
        return
    _mount("--bind", path, path)
    try:
        _mount("-o", "remount,bind,ro", path)
        yield os.strerror(errno.EROFS)
    finally:
        _umount(path)


@contextlib.contextmanager
def full(path, inodes_left=0):
    """``path`` on a small tmpfs holding a copy of its contents, with no room left: no
    block and no inode (a new file, link or folder is refused, a rename is not); with
    ``inodes_left``, that many inodes but still no block (a file can be made, not
    written). Yields the system's words for it. Needs root (mount)."""
    path = str(path)
    with tempfile.TemporaryDirectory() as aside:
        copy = os.path.join(aside, "copy")
        shutil.copytree(path, copy, symlinks=True)
        _mount("-t", "tmpfs", "-o", "size=1m,nr_inodes=256,mode=0755", "tmpfs", path)
        try:
            shutil.copytree(copy, path, symlinks=True, dirs_exist_ok=True)
            _fill(path)
            for number in range(1, inodes_left + 1):  # empty fillers: inodes, no block
                os.unlink(os.path.join(path, ".filler", str(number)))
            yield os.strerror(errno.ENOSPC)
        finally:
            _umount(path)


def _fill(path):
    """Take every free inode and block of the file system at ``path``."""
    filler = os.path.join(path, ".filler")
    os.mkdir(filler)
    try:
        for number in range(100_000):
            open(os.path.join(filler, str(number)), "x").close()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    with contextlib.suppress(OSError), open(os.path.join(filler, "0"), "wb") as handle:
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    stats = os.statvfs(path)
    assert stats.f_bavail == 0 and stats.f_favail == 0, "the file system still has room"
