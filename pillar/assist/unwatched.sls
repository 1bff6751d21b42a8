# The agent runs and starts at boot, without the watchdog that restarts it.
assist:
  client: running
  daemon: absent
  enable: true
