{#- Cloud Assistant: the watchdog goes before the client stops (require), the pillar
    policy chooses the end state. #}
{%- from "assist/map.jinja" import assist with context %}

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
