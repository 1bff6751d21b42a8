"""An audit's parts as assist.audit returns them: the policy and the agent's facts. The
execution module's tests judge them (tests/unit/modules), the runner's count them
(tests/unit/runners)."""

RUNNING = {"client": "running", "daemon": "present", "enable": True, "version": "2.5.3.650", "init_system": "sysvinit"}
DEAD = {"client": "dead", "daemon": "absent", "enable": False, "version": "2.5.3.650", "init_system": "sysvinit"}
FROZEN = {"client": "dead", "daemon": "absent", "enable": False}
DEFAULT = {"client": "running", "daemon": "present", "enable": None}
