"""
Changes to the managed system's files, made whole or not at all (``FileChange``), and a
file or process operation the system refused, said in words with what to do about it.
"""

import errno
import functools
import logging
import os

from salt.exceptions import CommandExecutionError

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_settings as settings
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path
    import assist_settings as settings

log = logging.getLogger(__name__)

# What to do about a file or process operation the system refused, by its errno.
ADVICE = {
    errno.EROFS: "its file system is mounted read-only; remount it read-write and run again",
    errno.ENOSPC: "the file system is full; free space on it and run again",
    errno.EDQUOT: "the disk quota is used up; free space and run again",
    errno.EACCES: "the minion may not change it; run the minion as root, or correct the permissions",
    errno.EPERM: (
        "the system does not allow it (an immutable file, a security policy, another user's process); lift that and run again"
    ),
    errno.EEXIST: "something else is in the way at that path; move it away and run again",
    errno.ENOTDIR: "a file is in the way where a folder belongs; move it away and run again",
    errno.EISDIR: "a folder is in the way where a file belongs; move it away and run again",
}


def os_error(step, action, path, exc, state=""):
    """A file or process operation the system refused, in words: the step, what was
    done to which path, the system's words, what to do, and (when given) what the system
    is left with."""
    advice = ADVICE.get(exc.errno, "correct that and run again")
    message = f"{step} failed: cannot {action} {path}: {exc.strerror or exc}; {advice}."
    return CommandExecutionError(f"{message} {state}".strip())


def unwritable(path):
    """The errno that keeps the folder ``path`` (or, where it is missing, the nearest
    folder above it) from being changed: EROFS, EACCES; None when it can be."""
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    if os.statvfs(path).f_flag & os.ST_RDONLY:
        return errno.EROFS
    return None if os.access(path, os.W_OK) else errno.EACCES


def check_writable(cfg, folders, step, why, state):
    """Refuse, before anything changes, when one of the folders (the managed system's
    paths) cannot be changed; ``why`` says what needs it."""
    for folder in folders:
        code = unwritable(settings.host_path(cfg, folder))
        if code:
            raise os_error(step, "change", f"{folder} ({why})", OSError(code, os.strerror(code)), state)


def _discard(path):
    """Remove a file, link or empty folder this module made; False if it could not be."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


class FileChange:
    """A change of files made whole or not at all (start at boot as rc links or UpStart
    job files). What needs room on the disk (new text, a new link, a folder, a second
    name keeping the old file) is made first, beside its place, where a read-only or a
    full file system refuses it before anything changed. Then each piece is renamed
    into place, which needs no room; a failure there renames back what was done."""

    def __init__(self, cfg, step):
        self.cfg, self.step = cfg, step
        self.made = []  # what the first phase made: removed again when the change fails
        self.moves = []  # (source, destination, undo) renames of the second phase
        self.kept = []  # old files under a second name: deleted once the change is whole

    def _beside(self, path, what):
        head, name = os.path.split(path)
        return os.path.join(head, f".{name}.assist-salt-{what}")

    def _make(self, action, path, made, operation):
        """Run one operation of the first phase; ``made`` is what it made, taken back if
        the change fails later (never what stood there before: a failed operation made
        nothing, but a file written in part)."""
        try:
            operation()
        except OSError as exc:
            raise self._fail(action, path, exc) from exc
        if made is not None:
            self.made.append(made)

    def _fail(self, action, path, exc):
        left = [settings.system_path(self.cfg, p) for p in reversed(self.made) if not _discard(p)]
        state = f"Left behind, to be deleted by hand: {', '.join(left)}." if left else ""
        return os_error(self.step, action, settings.system_path(self.cfg, path), exc, state)

    def folder(self, path):
        if not os.path.isdir(path):
            self._make("make the folder", path, path, lambda: os.mkdir(path))

    def write(self, path, text):
        # Not salt.utils.atomicfile.atomic_open: it renames each file as it closes, and
        # here every file of the change is staged first and renamed in the second phase.
        # Like it, the new text keeps the old file's mode and owner.
        new = self._beside(path, "new")

        def stage():
            with open(new, "w", encoding="utf-8") as handle:
                self.made.append(new)  # written in part when the disk fills: taken back too
                handle.write(text)
            if os.path.exists(path):
                old = os.stat(path)
                os.chmod(new, old.st_mode & 0o7777)
                os.chown(new, old.st_uid, old.st_gid)

        self._make("write", path, None, stage)
        undo = functools.partial(os.unlink, path)
        if os.path.lexists(path):  # a second name keeps the old text until the change is whole
            old = self._beside(path, "old")
            _discard(old)  # from a change cut short
            self._make("keep the old text of", path, old, functools.partial(os.link, path, old))
            self.kept.append(old)
            undo = functools.partial(os.rename, old, path)
        self.moves.append((new, path, undo))

    def symlink(self, target, path):
        self.folder(os.path.dirname(path))
        new = self._beside(path, "new")
        _discard(new)
        self._make("make the link", path, new, functools.partial(os.symlink, target, new))
        self.moves.append((new, path, functools.partial(os.unlink, path)))

    def rename(self, source, destination):
        self.moves.append((source, destination, functools.partial(os.rename, destination, source)))

    def remove(self, path):
        old = self._beside(path, "old")
        self.moves.append((path, old, functools.partial(os.rename, old, path)))
        self.kept.append(old)

    def commit(self):
        done = []
        for source, destination, undo in self.moves:
            try:
                os.rename(source, destination)
            except OSError as exc:
                stuck = [settings.system_path(self.cfg, d) for _, d, u in reversed(done) if not _attempted(u)]
                error = self._fail(f"rename {settings.system_path(self.cfg, source)} to", destination, exc)
                if stuck:
                    error = CommandExecutionError(f"{error} These could not be put back: {', '.join(stuck)}.")
                raise error from exc
            done.append((source, destination, undo))
        for old in self.kept:
            if not _discard(old):
                log.warning("assist: could not delete %s, an old copy kept during a change", old)


def _attempted(operation):
    try:
        operation()
    except OSError:
        return False
    return True
