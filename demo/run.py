"""The product's main job on one machine: a salt-master and two salt-minions on
loopback, each minion with a fake Cloud Assistant agent (real client and watchdog
processes) in its own sandbox root.

  web-1  in no pillar group: the agent runs and its watchdog stays
  db-1   grain assist_policy=frozen: the agent is stopped for good

Shown with Salt's own output: assist.status, a highstate in test mode, the highstate,
and assist.status again. Everything lives in demo-work/ and is stopped at the end.
"""

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import fakeagent  # noqa: E402  (after the path is set)

WORK = REPO / "demo-work"
BIN = pathlib.Path(sys.executable).parent
MINIONS = {"web-1": {}, "db-1": {"assist_policy": "frozen"}}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(path, settings):
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings))


def configure(ports):
    ext = WORK / "ext"
    ext.mkdir(parents=True)
    for kind in ("_modules", "_states", "_utils", "_grains"):
        (ext / kind).symlink_to(REPO / kind)
    common = {"user": os.environ.get("USER") or "root", "log_level_logfile": "info"}
    write_config(
        WORK / "conf" / "master",
        dict(
            common,
            root_dir=str(WORK / "master"),
            interface="127.0.0.1",
            publish_port=ports[0],
            ret_port=ports[1],
            auto_accept=True,
            file_roots={"base": [str(REPO / "salt"), str(ext)]},
            pillar_roots={"base": [str(REPO / "pillar")]},
        ),
    )
    for name, grains in MINIONS.items():
        write_config(
            WORK / name / "minion",
            dict(
                common,
                id=name,
                root_dir=str(WORK / name),
                master="127.0.0.1",
                master_port=ports[1],
                publish_port=ports[0],
                grains=grains,
                assist={"lookup": {"root": str(WORK / "sandbox" / name), "run_image_programs": True}},
            ),
        )


def salt(*args):
    """Run the salt CLI against the demo master, showing the command and its output."""
    argv = [str(BIN / "salt"), "-c", str(WORK / "conf"), "--timeout=60", *args]
    print(f"\n$ salt {' '.join(args)}", flush=True)
    return subprocess.run(argv, check=False).returncode


def wait_for_minions(deadline=90):
    end = time.monotonic() + deadline
    argv = [str(BIN / "salt"), "-c", str(WORK / "conf"), "--timeout=5", "--out=json", "--static", "*", "test.ping"]
    while time.monotonic() < end:
        out = subprocess.run(argv, capture_output=True, text=True).stdout
        if all(f'"{name}": true' in out for name in MINIONS):
            return
        time.sleep(1)
    raise SystemExit("demo: the minions did not answer within 90 s; see demo-work/*/var/log/salt")


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    configure((free_port(), free_port()))
    agents, daemons = [], []
    try:
        for name in MINIONS:
            agent = fakeagent.install(WORK / "sandbox" / name, init="sysvinit")
            agents.append(agent)
            agent.start()
        # The daemons' own chatter (start-up, shutdown) goes to demo-work/daemons.log.
        log = open(WORK / "daemons.log", "ab")  # noqa: SIM115  (closed with the daemons)
        spawn = [[str(BIN / "salt-master"), "-c", str(WORK / "conf")]]
        spawn += [[str(BIN / "salt-minion"), "-c", str(WORK / name)] for name in MINIONS]
        for argv in spawn:
            daemons.append(subprocess.Popen(argv, stdout=log, stderr=log))
        print("demo: master and minions web-1, db-1 starting on 127.0.0.1 ...", flush=True)
        wait_for_minions()
        subprocess.run(
            [str(BIN / "salt"), "-c", str(WORK / "conf"), "*", "saltutil.sync_all"],
            capture_output=True,
            check=True,
        )
        failures = 0
        failures += salt("*", "assist.status")
        failures += salt("*", "state.highstate", "test=True", "--state-output=changes")
        failures += salt("*", "state.highstate", "--state-output=changes")
        failures += salt("*", "assist.status")
        print("\ndemo: web-1 kept its agent and watchdog; db-1's watchdog is gone and its client "
              "is stopped and off at boot.", flush=True)
        return 1 if failures else 0
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        for agent in agents:
            agent.cleanup()
        print("demo: stopped the master, the minions and the fake agents.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
