"""assist-salt as a Salt extension: the same _modules, _states, _grains and _utils that
file_roots users sync, found by Salt's loader through the ``salt.loader`` entry point."""
