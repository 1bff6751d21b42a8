"""The ``salt.loader`` entry point: where Salt finds this extension's modules."""

import importlib

KINDS = ("modules", "states", "grains", "utils", "runners", "beacons")


def loader_dirs():
    """Each kind's folder, as the import system found the subpackage: inside the package
    when installed from the wheel; the repository's ``_modules``, ``_states``, ... when
    installed editable (``pip install -e .``), which pyproject.toml maps them to."""
    return {kind: list(importlib.import_module(f"{__package__}.{kind}").__path__) for kind in KINDS}
