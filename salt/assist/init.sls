{#- Cloud Assistant. Pillar `assist` chooses the end state; assist.policy checks it and
    fills in the defaults (agent running, watchdog present), so a bad value fails the
    render, naming the key, before any state runs. The watchdog goes before the client
    stops: said with require. #}
{%- set assist = salt["assist.policy"](pillar.get("assist", {})) %}

{%- if assist.daemon == "absent" %}
assist-daemon-absent:
  assist.daemon_absent: []
{%- endif %}

assist-client-{{ assist.client }}:
  assist.{{ assist.client }}:
    - enable: {{ assist.enable | tojson }}
{%- if assist.daemon == "absent" %}
    - require:
      - assist: assist-daemon-absent
{%- endif %}
