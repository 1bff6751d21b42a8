"""salt-call in a Windows Python of its own, as Salt's salt-call.exe launcher does (the
launchers in Scripts\\ exit 1 under Wine 8.0). Test-only: wine_gaps first (see there)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import salt.scripts  # noqa: E402
import wine_gaps  # noqa: E402,F401

sys.argv[0] = "salt-call"
salt.scripts.salt_call()
