"""
The ``assist_agent`` grain: the init system, whether the Cloud Assistant agent is
installed, and its version, so minions can be targeted by them::

    salt -G 'assist_agent:installed:True' assist.stop

Named ``assist_agent``, not ``assist``: grains do not merge, so a grain ``assist`` would
replace (or be replaced by) settings a user keeps under the grain ``assist:lookup``.

Files are read, no command is run (so UpStart is known by its ``/sbin/init`` only).
Grains load before pillar, so only the minion config's ``assist:lookup`` is honoured.
"""

import logging

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

try:  # installed as a Salt extension (pip)
    from saltext.assist.utils import assist_release
except ImportError:  # synced from file_roots (a missing folder: the execution module says what to do)
    import assist_release

__version__ = "0.3.0"  # this release; its helpers must be of the same one
# This release's helpers from their files (assist_release says why).
assist_backend, assist_init, assist_settings = assist_release.load(
    __version__, "assist_backend", "assist_init", "assist_settings"
)


def __virtual__():
    return "assist"


def assist_agent():
    try:
        cfg = assist_settings.load((__opts__.get("assist") or {}).get("lookup") or {})
    except CommandExecutionError:  # the module names the bad setting; the grain stays quiet
        cfg = dict(assist_settings.DEFAULTS)
    try:
        found = assist_init.detect(cfg)
    except CommandExecutionError:
        found = None
    system = found["system"] if found else None
    log.debug("assist grain: init system %s (%s)", system, found["evidence"] if found else "not detected")
    # Every Linux init system's agent keeps its version in the same file.
    version = assist_init.BACKENDS.get(system, assist_backend.LinuxBackend).read_version(cfg)
    return {"assist_agent": {"init_system": system, "installed": version is not None, "version": version}}
