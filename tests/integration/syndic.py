"""A fleet beyond one master: a master of masters, a syndic with its own master, and
minions under each, started by salt-factories on a Salt release whose syndic works.

    syn-top (order_masters, 127.0.0.1)
    ├── syn-top-1                          minion directly under the top
    └── syn-mid: syndic + its master (127.0.0.2) + its own minion syn-mid
        ├── syn-low-1
        └── syn-low-2

Every minion has its own fake agent in its own sandbox root. Both masters serve the
project's modules (a minion syncs from its own master); the operator works on the top.

Which Salt runs these daemons: Salt 3008.4's syndic never relays the lower minions'
returns. 3008 calls `_return_pub_multi(..., sync=True)` in `_return_pub_syndic` and
keeps the result as if it were a future (a run with raw daemons logged `AttributeError:
'str' object has no attribute 'done'` there); 3006.29 and 3007.16 pass `sync=False`.
This topology run on 3008.4 gave syn-top-1's return only: the syndic logged "fire_master failed: master could not be contacted" and
"The minion failed to return the job information", and the salt CLI reported the three
lower minions as not returning. Run from a 3008 virtualenv (`make test`), the daemons and
the `salt` CLI therefore come from `.venv-3007` (salt-factories' `scripts_dir`) while
pytest itself stays on 3008; from a 3006 or 3007 virtualenv (`make test-matrix`) they are
that release's own. A missing `.venv-3007` fails the tests with the command that makes
it; nothing is skipped. When a 3008 release fixes the syndic, drop 3008 from
BROKEN_SYNDIC: test_the_topology_runs_a_release_whose_syndic_works then runs it on 3008.

Like Salt's own syndic tests, the lower master publishes on the top's publish port, on
another loopback address (those tests call it a drawback of the current syndic design).
"""

import subprocess
import sys

import pytest
import salt.version
from saltfactories.manager import FactoriesManager

from tests.conftest import REPO, all_started

# Salt releases (major numbers) whose syndic drops the lower minions' returns.
BROKEN_SYNDIC = {3008}
WORKING_VENV = REPO / ".venv-3007"
TOP_ADDRESS, LOWER_ADDRESS = "127.0.0.1", "127.0.0.2"
UNDER_TOP = ("syn-top-1",)
SYNDIC = "syn-mid"  # the syndic, its master, and that host's own minion
UNDER_SYNDIC = ("syn-low-1", "syn-low-2")
MINIONS = (*UNDER_TOP, SYNDIC, *UNDER_SYNDIC)


def scripts_dir():
    """The bin folder of the Salt that runs the syndic topology, or None for the Salt
    pytest runs on (salt-factories then writes its own scripts for sys.executable)."""
    if salt.version.__saltstack_version__.major not in BROKEN_SYNDIC:
        return None
    scripts = WORKING_VENV / "bin"
    if not (scripts / "salt-syndic").exists():
        pytest.fail(
            f"Salt {salt.version.__version__}'s syndic is broken, so the syndic tests run "
            f"Salt 3007's daemons from {WORKING_VENV}, which is missing: "
            "run `make .venv-3007/.installed` (`make test` does)"
        )
    return scripts


def release(scripts):
    """The version of the Salt whose daemons run the topology."""
    if scripts is None:
        return salt.version.__version__
    done = subprocess.run(
        [str(scripts / "python"), "-c", "import salt.version; print(salt.version.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def manager(request, event_listener, root_dir, scripts):
    log_server = request.config.pluginmanager.get_plugin("saltfactories-log-server")
    return FactoriesManager(
        root_dir=root_dir,
        log_server_host=log_server.log_host,
        log_server_port=log_server.log_port,
        log_server_level=log_server.log_level,
        event_listener=event_listener,
        scripts_dir=scripts,
        python_executable=None if scripts else sys.executable,
        start_timeout=120,
        slow_stop=False,  # no coverage data to write: no need to wait for a clean exit
    )


def lookup(sandbox):
    return {"assist": {"lookup": {"root": str(sandbox), "run_image_programs": True, "verify_seconds": 2}}}


def master_overrides(ext_root):
    """What both masters serve: the state tree, the project's modules, the pillar."""
    return {
        "auto_accept": True,
        "file_roots": {"base": [str(REPO / "salt"), str(ext_root)]},
        "pillar_roots": {"base": [str(REPO / "pillar")]},
    }


class Topology:
    """Factories of every daemon; started with `started()` as a context manager."""

    def __init__(self, factories, ext_root, sandboxes):
        if factories.scripts_dir is not None and not factories.generate_scripts:
            self.salt_command = [str(factories.scripts_dir / "salt")]
            self.salt_run_command = [str(factories.scripts_dir / "salt-run")]
        else:
            self.salt_command = [sys.executable, factories.get_salt_script_path("salt")]
            self.salt_run_command = [sys.executable, factories.get_salt_script_path("salt-run")]
        self.top = factories.salt_master_daemon(
            "syn-top",
            # syndic_wait: how long each call on the top waits for the syndics' lists of
            # the minions they targeted (5 s by default); on loopback they come within
            # a fraction of a second, and every call of the tier pays it.
            overrides={"interface": TOP_ADDRESS, "order_masters": True, "syndic_wait": 2, **master_overrides(ext_root)},
        )
        port = self.top.config["publish_port"]
        self.syndic = self.top.salt_syndic_daemon(
            SYNDIC,
            defaults={"interface": LOWER_ADDRESS, "publish_port": port},
            master_overrides={"interface": LOWER_ADDRESS, **master_overrides(ext_root)},
            minion_overrides={"master": LOWER_ADDRESS, "publish_port": port, **lookup(sandboxes[SYNDIC])},
        )
        lower = self.syndic.master
        self.minions = {name: self.top.salt_minion_daemon(name, overrides=lookup(sandboxes[name])) for name in UNDER_TOP}
        for name in UNDER_SYNDIC:
            self.minions[name] = lower.salt_minion_daemon(
                name,
                overrides={
                    "master": f"{LOWER_ADDRESS}:{lower.config['ret_port']}",
                    "publish_port": port,
                    **lookup(sandboxes[name]),
                },
            )

    def started(self):
        """The top master, the syndic (with its master and minion), then the minions."""
        return all_started([self.top], [self.syndic], self.minions.values())

    def salt_argv(self, *args, timeout=60):
        """The salt CLI on the top master, of the same Salt as the daemons, one JSON
        document per minion's return as it arrives (not merged: a minion answering
        twice shows twice)."""
        return [*self.salt_command, f"--config-dir={self.top.config_dir}", "--out=json", f"--timeout={timeout}", *args]

    def salt_run_argv(self, *args):
        """salt-run on the top master, of the same Salt as the daemons, in JSON."""
        return [*self.salt_run_command, f"--config-dir={self.top.config_dir}", "--out=json", *args]
