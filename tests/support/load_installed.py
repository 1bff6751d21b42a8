"""Load every kind of the project's modules the way the minion and the master do, from
whatever Python this runs in, and print as JSON the file each came from and what the
beacon and the runners gave.

    python load_installed.py MINION_CONFIG MASTER_CONFIG

tests/integration/test_wheel.py runs it in a virtualenv holding only the project (the
wheel, or the source tree installed editable): the modules come from the installed
package (the salt.loader entry point), not file_roots.
"""

import inspect
import json
import sys

import salt.beacons
import salt.config
import salt.loader


def source(loaded):
    """The file a function the loader gave came from (the loader wraps it)."""
    return inspect.getfile(getattr(loaded, "func", loaded))


def main(minion_config, master_config):
    minion = salt.config.minion_config(minion_config)
    minion["grains"] = salt.loader.grains(minion)
    minion["pillar"] = {}
    functions = salt.loader.minion_mods(minion)
    states = salt.loader.states(minion, functions, salt.loader.utils(minion), salt.loader.serializers(minion))
    beacons = salt.beacons.Beacon(minion, functions)
    runners = salt.loader.runner(salt.config.master_config(master_config))
    module = getattr(functions["assist.init_system"], "func", functions["assist.init_system"])
    found = {
        "files": {
            "modules": source(functions["assist.init_system"]),
            "states": source(states["assist.dead"]),
            "grains": source(salt.loader.grain_funcs(minion)["assist.assist_agent"]),
            "utils": inspect.getfile(module.__globals__["assist_init"]),  # what the module imported
            "runners": source(runners["assist.report"]),
            "beacons": source(beacons.beacons["assist.beacon"]),
        },
        "validate": beacons.beacons["assist.validate"]([{"interval": 60}]),
        # What the minion would fire now (no interval: the beacon runs on this call).
        "events": beacons.process({"assist": [{"reminder": 600}]}, minion["grains"]),
        "plan": runners["assist.plan"](rollout={"target": "web-*", "batch": "ten"}),
    }
    print(json.dumps(found, default=str))


if __name__ == "__main__":
    main(*sys.argv[1:])
