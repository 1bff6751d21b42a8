"""Integration tier: a real salt-master and three salt-minions on loopback, each minion
with its own fake agent in its own sandbox root.

Minions and their pillar group (pillar/top.sls):
  web-1    no group: the defaults (agent runs, watchdog stays)
  build-1  'build-*' glob: unwatched (agent runs, watchdog removed, starts at boot)
  db-1     grain assist_policy=frozen: frozen (agent stopped, watchdog removed, off at boot)
"""

import pytest

from tests.conftest import all_started
from tests.support import fakeagent

MINIONS = {
    "web-1": {},
    "build-1": {},
    "db-1": {"assist_policy": "frozen"},
}
# All three and no other minion of the session's master (the system tier's are sys-*).
FLEET = "*-1"


@pytest.fixture(scope="session")
def sandboxes(tmp_path_factory):
    return {name: tmp_path_factory.mktemp(name) for name in MINIONS}


@pytest.fixture(scope="session")
def salt_minions(salt_master, sandboxes):
    factories = {
        name: salt_master.salt_minion_daemon(
            name,
            overrides={
                "grains": grains,
                "assist": {"lookup": {"root": str(sandboxes[name]), "run_image_programs": True, "verify_seconds": 2}},
            },
        )
        for name, grains in MINIONS.items()
    }
    with all_started(factories.values()):
        ret = salt_master.salt_cli().run("saltutil.sync_all", minion_tgt=FLEET)
        assert ret.returncode == 0, ret
        yield factories


@pytest.fixture
def agents(salt_minions, sandboxes, salt_cli):
    """A fresh, running fake agent on every minion; never-delete trees unchanged after."""
    with fakeagent.running(sandboxes) as agents:
        yield agents
