"""
Which init system manages the agent, with the evidence that decided it, and the table
of backends, one per init system (each in a file of its own: ``assist_systemd``,
``assist_upstart``, ``assist_sysvinit``, ``assist_windows``). Adding an init system
means adding its file and a row here.
"""

import os

import salt.utils.platform
from salt.exceptions import CommandExecutionError

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_settings as settings
    from saltext.assist.utils import assist_systemd, assist_sysvinit, assist_upstart, assist_windows
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path
    import assist_settings as settings
    import assist_systemd
    import assist_sysvinit
    import assist_upstart
    import assist_windows

# The vendor's test: `strings /sbin/init | grep ...`, in this order.
INIT_MARKERS = ((b"/lib/system", "systemd"), (b"upstart", "upstart"), (b"sysvinit", "sysvinit"))

BACKENDS = {
    backend.name: backend
    for backend in (assist_systemd.Systemd, assist_upstart.Upstart, assist_sysvinit.Sysvinit, assist_windows.Windows)
}


def init_marker(root, init_path):
    """The vendor's test on the bytes of init_path: (system, evidence), or None when no
    marker is there. Raises OSError when the file cannot be read."""
    fd = os.open(settings.resolve(root, init_path), os.O_RDONLY)
    try:  # one read(2) returns a regular file whole; half the cost of a file object's
        content = os.read(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    for marker, system in INIT_MARKERS:
        if marker in content:
            return system, f"{init_path} contains {marker.decode()!r}"
    return None


def detect(cfg, funcs=None, context=None):
    """Which init system manages the agent, and the evidence that decided it. Without
    ``funcs`` (Salt's execution functions) no command runs (the grain): UpStart is then known by its marker only."""
    context = {} if context is None else context
    if salt.utils.platform.is_windows():
        return {"system": "windows", "evidence": "the minion runs on Windows"}
    if cfg["init_system"] != "auto":
        return {"system": cfg["init_system"], "evidence": "set by assist:lookup:init_system"}
    if assist_systemd.systemd_running(cfg["root"], context):
        return {"system": "systemd", "evidence": "/run/systemd/system exists (systemd runs)"}
    if funcs is not None and assist_upstart.upstart_version(funcs, cfg, context):
        return {"system": "upstart", "evidence": "initctl --version names upstart"}
    try:
        found = init_marker(cfg["root"], cfg["init_path"])
    except OSError as exc:
        raise CommandExecutionError(
            f"detecting the init system failed: cannot read {cfg['init_path']} "
            f"({exc.strerror or exc}); set assist:lookup:init_system to systemd, upstart "
            "or sysvinit"
        ) from exc
    if found is None:
        raise CommandExecutionError(
            f"detecting the init system failed: {cfg['init_path']} contains none of "
            "'/lib/system', 'upstart', 'sysvinit'; set assist:lookup:init_system "
            "to systemd, upstart or sysvinit"
        )
    return {"system": found[0], "evidence": found[1]}


def backend(cfg, funcs, context):
    """The backend of the detected init system; detection is cached in ``context``."""
    key = (cfg["root"], cfg["init_path"], cfg["init_system"])
    cached = context.get("assist.init_system")
    if not cached or cached[0] != key:
        cached = context["assist.init_system"] = (key, detect(cfg, funcs, context))
    found = cached[1]
    return BACKENDS[found["system"]](cfg, funcs, context, found["evidence"])
