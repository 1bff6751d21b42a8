# Each minion's audit in the master's cache, through Salt's mine, for
# `salt-run assist.report source=cache` (docs/fleet.md, "Live or cached").
# assist.mine_audit is assist.audit with the time it was taken and its period, and
# never raises. mine_functions sends it when the minion starts (and every
# mine_interval); the job assist_mine sends it every `minutes`, each run delayed by
# up to `splay` seconds so a fleet does not answer at once. The verbs that change
# the agent run the job at once, so a change reaches the cache within seconds.
# A group changes its period in its own file:  schedule: {assist_mine: {minutes: 15}}
mine_functions:
  assist.mine_audit: []
schedule:
  assist_mine:
    function: mine.send
    args:
      - assist.mine_audit
    minutes: 5
    splay: 60
    return_job: false
