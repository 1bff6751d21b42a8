"""assist-salt as a Salt extension: the same _modules, _states, _grains, _utils, _runners
and _beacons that file_roots users sync, found by Salt's loader through the ``salt.loader``
entry point (``loader.py``)."""
