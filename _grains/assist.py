"""
The ``assist_agent`` grain: the init system, whether the Cloud Assistant agent is
installed, and its version, so minions can be targeted by them::

    salt -G 'assist_agent:installed:True' assist.stop

Named ``assist_agent``, not ``assist``: grains do not merge, so a grain ``assist`` would
replace (or be replaced by) settings a user keeps under the grain ``assist:lookup``.

Files are read, no command is run. Grains load before pillar, so only the minion
config's ``assist:lookup`` (``root``, ``init_path``, ``client_dir``) is honoured.
"""

import salt.utils.platform

try:  # installed as a Salt extension (pip)
    from saltext.assist._utils import assist_facts as facts
except ImportError:  # synced from file_roots: Salt puts the utils folder on sys.path while loading
    try:
        import assist_facts as facts
    except ImportError:
        facts = None


def __virtual__():
    if facts is None:
        return (False, "assist: _utils/assist_facts.py is missing; run saltutil.sync_all")
    return "assist"


DEFAULTS = {"root": "/", "init_path": "/sbin/init", "client_dir": "/usr/local/share/aliyun-assist"}


def assist_agent():
    lookup = dict(DEFAULTS)
    given = (__opts__.get("assist") or {}).get("lookup") or {}
    if isinstance(given, dict):
        lookup.update({key: given[key] for key in DEFAULTS if isinstance(given.get(key), str)})
    version = facts.agent_version(lookup["root"], lookup["client_dir"])
    return {
        "assist_agent": {
            "init_system": _init_system(lookup),
            "installed": version is not None,
            "version": version,
        }
    }


def _init_system(lookup):
    if salt.utils.platform.is_windows():
        return "windows"
    if facts.systemd_running(lookup["root"]):
        return "systemd"
    try:
        found = facts.init_marker(lookup["root"], lookup["init_path"])
    except OSError:
        return None
    return found[0] if found else None
