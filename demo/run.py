"""The product's main job on one machine: a salt-master and four salt-minions on
loopback, each in its own sandbox root, three with a fake Cloud Assistant agent (real
client and watchdog processes) and one without the agent.

  web-1    in no pillar group: the agent runs and its watchdog stays
  build-1  'build-*': the agent runs, without its watchdog
  db-1     grain assist_policy=frozen: the agent is stopped for good
  bare-1   grain assist_policy=frozen, a custom image without the agent: compliant as it is

Shown with Salt's own output, the fleet's loop: the report (who drifts and why), a
rollout (canary, then waves), the report again, then db-1's agent started behind
Salt's back and put back by the beacon and the reactor. Everything lives in demo-work/
and is stopped at the end.
"""

import json
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

from tests.conftest import EXTENSION_FOLDERS  # noqa: E402  (after the path is set)
from tests.support import fakeagent  # noqa: E402

WORK = REPO / "demo-work"
BIN = pathlib.Path(sys.executable).parent
MINIONS = {"web-1": {}, "build-1": {}, "db-1": {"assist_policy": "frozen"}, "bare-1": {"assist_policy": "frozen"}}
# Minions whose system never had the agent.
WITHOUT_AGENT = {"bare-1"}
# The configuration of docs/fleet.md with a shorter beacon interval (60 s there), so that the
# demo sees the beacon act soon; the reactor's least time between two state runs on
# one minion stays below it.
BEACON_INTERVAL = 5
ENFORCE_INTERVAL = 4
ROLLOUT = '{"assist_rollout": {"target": "*", "canary": ["db-1"], "batch": 1}}'


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
    for kind in EXTENSION_FOLDERS:
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
            reactor=[{"salt/beacon/*/assist/*": ["salt://assist/reactor/drift.sls"]}],
            assist_enforce_interval=ENFORCE_INTERVAL,
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
                beacons={"assist": [{"interval": BEACON_INTERVAL}]},
            ),
        )


def salt(*args, quiet=False):
    """Run the salt CLI against the demo master, showing the command and its output."""
    return run("salt", "--timeout=60", *args, quiet=quiet)


def salt_run(*args, quiet=False):
    return run("salt-run", *args, quiet=quiet)


# Salt 3008.4's salt-run warns, at exit, about clients it did not close itself (its own
# Runner and MasterMinion, and saltutil.runner's in orchestration): noise, not ours.
SALT_NOISE = "call ``destroy()`` or use as a context manager"


def run(program, *args, quiet=False):
    argv = [str(BIN / program), "-c", str(WORK / "conf"), *args]
    shown = " ".join(f"'{arg}'" if " " in arg or "*" in arg else arg for arg in args if not arg.startswith("--timeout"))
    print(f"\n$ {program} {shown}", flush=True)
    done = subprocess.run(argv, check=False, stdout=subprocess.PIPE if quiet else None, stderr=subprocess.PIPE, text=True)
    said = [line for line in done.stderr.splitlines() if SALT_NOISE not in line]
    if said and not quiet:
        print("\n".join(said), file=sys.stderr, flush=True)
    return done.returncode


def say(text):
    print(f"\ndemo: {text}", flush=True)


def wait_for_minions(deadline=90):
    end = time.monotonic() + deadline
    argv = [str(BIN / "salt"), "-c", str(WORK / "conf"), "--timeout=5", "--out=json", "--static", "*", "test.ping"]
    while time.monotonic() < end:
        out = subprocess.run(argv, capture_output=True, text=True).stdout
        if all(f'"{name}": true' in out for name in MINIONS):
            return
        time.sleep(1)
    raise SystemExit("demo: the minions did not answer within 90 s; see demo-work/*/var/log/salt")


def bare_compliant():
    """The report says bare-1 is compliant and its agent not installed."""
    argv = [str(BIN / "salt-run"), "-c", str(WORK / "conf"), "--out=json", "assist.report", "tgt=bare-1"]
    done = subprocess.run(argv, capture_output=True, text=True)
    try:
        found = json.loads(done.stdout)
    except ValueError:
        found = {}
    if found.get("summary", {}).get("compliant") == 1 and found.get("counts", {}).get("client") == {"not installed": 1}:
        return True
    print(f"demo: the report does not say bare-1 is compliant and not installed: {done.stdout}{done.stderr}", flush=True)
    return False


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    configure((free_port(), free_port()))
    agents, daemons = {}, []
    try:
        for name in MINIONS:
            if name in WITHOUT_AGENT:
                fakeagent.bare(WORK / "sandbox" / name, init="sysvinit")
                continue
            agents[name] = fakeagent.install(WORK / "sandbox" / name, init="sysvinit")
            agents[name].start()
        # The daemons' own chatter (start-up, shutdown) goes to demo-work/daemons.log.
        log = open(WORK / "daemons.log", "ab")  # noqa: SIM115  (closed with the daemons)
        spawn = [[str(BIN / "salt-master"), "-c", str(WORK / "conf")]]
        spawn += [[str(BIN / "salt-minion"), "-c", str(WORK / name)] for name in MINIONS]
        for argv in spawn:
            daemons.append(subprocess.Popen(argv, stdout=log, stderr=log))
        print(f"demo: master and minions {', '.join(MINIONS)} starting on 127.0.0.1 ...", flush=True)
        wait_for_minions()
        failures = 0
        say(
            "enforcement is paused on every minion while we look and roll out (the beacon "
            "honours grain assist_paused); then the modules, beacon and runners are synced."
        )
        failures += salt("*", "grains.setval", "assist_paused", "true", "--out=txt")
        failures += salt("*", "saltutil.sync_all", quiet=True)
        failures += salt_run("saltutil.sync_runners", quiet=True)

        say(
            "who drifts from the policy of their group, and why (bare-1 has no agent: under the frozen "
            "policy that is compliant, counted as 'not installed'):"
        )
        salt_run("assist.report")  # drift is what we came to see: its exit status is not judged
        # The minions sent their mine before the sync brought assist.mine_audit: once more now.
        failures += salt("*", "mine.send", "assist.mine_audit", quiet=True)
        say("the same from the master's cache (the mine; nothing published), with each answer's age in seconds:")
        salt_run("assist.report", "source=cache")
        say("the rollout: db-1 first (the canary), then one minion at a time, audited after each step.")
        failures += salt_run("state.orchestrate", "assist.orch.rollout", f"pillar={ROLLOUT}", "--state-output=terse")
        say("afterwards, strict: any drift, error or silent minion would fail this command.")
        failures += salt_run("assist.report", "strict=True")

        say(
            f"enforcement resumed; db-1's client is started behind Salt's back. Its beacon "
            f"(every {BEACON_INTERVAL} s) reports the drift, the reactor applies db-1's own "
            "assist state, the beacon reports it compliant:"
        )
        failures += salt("*", "grains.delkey", "assist_paused", quiet=True)
        time.sleep(BEACON_INTERVAL)  # the beacons see the grain gone and find nothing to say
        events = subprocess.Popen(
            [str(BIN / "salt-run"), "-c", str(WORK / "conf"), "state.event", "salt/beacon/db-1/assist/*", "count=2", "--quiet"],
            stderr=subprocess.DEVNULL,  # only Salt's exit-time noise (SALT_NOISE)
        )
        time.sleep(2)  # listening
        script = agents["db-1"].sysv_script
        print(f"\n$ {script} start", flush=True)
        subprocess.run([str(script), "start"], check=True, timeout=15)
        try:
            failures += events.wait(timeout=90)
        except subprocess.TimeoutExpired:
            events.kill()
            failures += 1
            print("demo: the beacon and reactor did not put db-1 back within 90 s", flush=True)
        failures += 0 if fakeagent.wait_until(lambda: not agents["db-1"].client_pids(), timeout=10) else 1
        failures += salt_run("assist.report", "by_minion=True", "--out=table")
        failures += 0 if bare_compliant() else 1
        if not failures:
            say("db-1 was put back: every minion follows its policy, bare-1 without the agent.")
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
        for agent in agents.values():
            agent.cleanup()
        print("demo: stopped the master, the minions and the fake agents.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
