{#- Reactor for the assist beacon (_beacons/assist.py). Master config:

      reactor:
        - 'salt/beacon/*/assist/*':
          - salt://assist/reactor/drift.sls

    Only a `drift` event acts. The minion acted on is the one named in the event's tag
    (salt/beacon/<minion>/assist/drift); nothing else of the event is read. The runner
    assist.enforce applies that minion's own `assist` state (its own pillar), targeting
    the id as a list of one, and only for an accepted minion; it starts at most one
    state run per minion every assist_enforce_interval seconds (master config, 30 by
    default), however many events arrive. #}
{%- set parts = tag.split("/") %}
{%- if parts | length == 5 and parts[:2] == ["salt", "beacon"] and parts[3:] == ["assist", "drift"] %}
assist-enforce:
  runner.assist.enforce:
    - args:
      - minion: {{ parts[2] | tojson }}
{%- endif %}
