# Which group of minions gets which Cloud Assistant policy. Minions in no group get
# the defaults of assist.policy: the agent runs and its watchdog stays.
base:
  # Every minion's audit to the master's cache (salt-run assist.report source=cache);
  # first, so that a group's own file can change its period.
  '*':
    - assist.mine
  # Instances whose agent must stay off, chosen by a grain set on the minion
  # (salt ID grains.setval assist_policy frozen; saltutil.refresh_pillar).
  'assist_policy:frozen':
    - match: grain
    - assist.frozen
  # Build hosts keep the agent running but lose its watchdog, chosen by name.
  'build-*':
    - assist.unwatched
