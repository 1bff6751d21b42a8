"""
The pillar policy (``assist``: client, daemon, enable) and how the agent's facts are
judged against it: the one place where a policy is checked and a drift is said, used by
``assist.policy``, ``assist.audit`` (and so the beacon and the report) and the SLS.
"""

import json

from salt.exceptions import CommandExecutionError

# The pillar policy: key: (default, allowed values, what to tell a user who gave another).
POLICY = {
    "client": ("running", ("running", "dead"), "use running or dead"),
    "daemon": ("present", ("present", "absent"), "use present or absent"),
    "enable": (None, (True, False, None), "use true, false, or leave it out"),
}


def check(given):
    """The pillar policy (``assist``: client, daemon, enable) over its defaults, checked.
    A bad value names the pillar key; ``lookup`` (the settings) is not policy."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise CommandExecutionError(f"pillar assist must be a mapping, not {type(given).__name__}")
    unknown = sorted(map(str, set(given) - set(POLICY) - {"lookup"}))
    if unknown:
        raise CommandExecutionError(
            f"pillar assist: unknown key(s) {', '.join(unknown)}; known keys are {', '.join(POLICY)} and lookup"
        )
    wanted = {}
    for key, (default, allowed, hint) in POLICY.items():
        value = given.get(key, default)
        # True == 1 in Python: compare by identity for the booleans and None.
        if not any(value is choice or (isinstance(choice, str) and value == choice) for choice in allowed):
            raise CommandExecutionError(f"pillar assist:{key} is {json.dumps(value, default=str)}; {hint}")
        wanted[key] = value
    if wanted["client"] == "dead" and wanted["daemon"] == "present":
        raise CommandExecutionError(
            "pillar assist:client is dead while assist:daemon is present: the watchdog "
            "would restart the client; set assist:daemon to absent"
        )
    return wanted


# The audit's client fact from status's (running, restart_pending). Down but due to be
# restarted by its init system is neither: a dead policy is not met (it runs again when
# the restart is due), nor a running one (nothing runs until then).
CLIENT_FACT = {(True, False): "running", (False, False): "dead", (False, True): "restart pending"}


def client_fact(client):
    """The audit's client fact from status's client. Not installed meets a dead policy
    (nothing can run); half installed meets none (no verb acts on it: a person must)."""
    if client["incomplete"]:
        return "half installed"
    if not client["installed"]:
        return "not installed"
    return CLIENT_FACT[client["running"], client["restart_pending"]]


def drift(wanted, agent, watchdog=True, watchdog_running=False, incomplete=None):
    """The differences between a checked policy and the agent's facts, in words."""
    drift = []
    if agent["client"] == "half installed":
        drift.append(f"the agent is half installed: {incomplete}")
    elif agent["client"] == "not installed":
        if wanted["client"] == "running":
            drift.append("the agent is not installed, policy says running")
    elif agent["client"] != wanted["client"]:
        if agent["client"] == "running":
            drift.append("client is running, policy says dead")
        elif agent["client"] == "restart pending":
            drift.append(f"client is down and its init system will restart it, policy says {wanted['client']}")
        else:
            drift.append("client is stopped, policy says running")
    if watchdog and agent["daemon"] != wanted["daemon"]:
        if agent["daemon"] == "present":
            said = "running" if watchdog_running else "installed"
            drift.append(f"watchdog is {said}, policy says absent")
        else:
            drift.append("watchdog is absent, policy says present")
    if wanted["enable"] is not None and agent["enable"] != wanted["enable"]:
        words = {True: "on", False: "off"}
        drift.append(f"start at boot is {words[agent['enable']]}, policy says {words[wanted['enable']]}")
    return drift


def agent_facts(status, watchdog=True):
    """What the audit judges, from ``assist.status``'s answer: the client (as
    ``client_fact`` says it), the watchdog present or absent, start at boot, the
    version and the init system."""
    daemon = status["daemon"]
    return {
        "client": client_fact(status["client"]),
        "daemon": "present" if daemon["installed"] or daemon["running"] else "absent",
        "enable": status["client"]["enabled"],
        "version": status["client"]["version"],
        "init_system": status["init"]["system"],
    }
