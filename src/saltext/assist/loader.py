"""The ``salt.loader`` entry point: where Salt finds this extension's modules."""

import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent


def loader_dirs():
    return {kind: [str(PACKAGE / kind)] for kind in ("modules", "states", "grains", "utils", "runners", "beacons")}
