# The agent is stopped for good: watchdog removed, client stopped, not started at boot.
assist:
  client: dead
  daemon: absent
  enable: false
