"""The ``salt.loader`` entry point: where Salt finds this extension's modules."""

import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent


def loader_dirs():
    return {
        "modules": [str(PACKAGE / "_modules")],
        "states": [str(PACKAGE / "_states")],
        "grains": [str(PACKAGE / "_grains")],
        "utils": [str(PACKAGE / "_utils")],
    }
