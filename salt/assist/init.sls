{#- Cloud Assistant. Pillar `assist` chooses the end state; assist.policy checks it and
    fills in the defaults (agent running, watchdog present), so a bad value fails the
    render, naming the key, before any state runs. The watchdog goes before the client
    stops: said with require. #}
{%- set given = pillar.get("assist", {}) %}
{%- set assist = salt["assist.policy"](given) %}
{%- if assist.client is not defined %}
{#- salt-ssh on Salt 3006 hands Jinja an empty answer instead of the module's error. #}
{{- raise("pillar assist could not be checked (" ~ given | tojson ~ "); `salt-call assist.policy` (salt-ssh: `salt-ssh HOST assist.policy`) names the bad key") }}
{%- endif %}

{%- if assist.daemon == "absent" %}
assist-daemon-absent:
  assist.daemon_absent: []
{%- endif %}

assist-client-{{ assist.client }}:
  assist.{{ assist.client }}:
    - enable: {{ assist.enable | tojson }}
{%- if assist.daemon == "absent" %}
{%- if assist.client == "dead" %}
    - remove_daemon: true
{%- endif %}
    - require:
      - assist: assist-daemon-absent
{%- endif %}
