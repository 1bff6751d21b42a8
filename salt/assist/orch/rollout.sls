{#- Roll the `assist` state out: the canary minions first, then the rest in waves, an
    audit (salt-run assist.report, strict) after each step, a report of the whole
    target at the end. The first failing step halts the rollout (failhard, and each
    step requires the audit before it): the minions not yet reached are not touched,
    and salt-run exits non-zero.

      salt-run state.orchestrate assist.orch.rollout \
        pillar='{"assist_rollout": {"target": "web-* or G@role:web", "canary": ["web-1"], "batch": "25%"}}'

    The runner assist.plan checks the pillar (a bad value names the key, and no step
    is rendered) and plans the minions that answer a test.ping to the target now, at
    every level under syndics; a silent one refuses the rollout before any step. #}
{%- set plan = salt["saltutil.runner"]("assist.plan", rollout=pillar.get("assist_rollout")) %}
{%- if plan is not mapping %}
{{- raise("assist.plan did not answer (" ~ plan ~ "); sync the runners: salt-run saltutil.sync_runners") }}
{%- elif plan.error is defined %}
{{- raise(plan.error ~ "; nothing was changed") }}
{%- endif %}

{%- set steps = [] %}
{%- if plan.canary %}
{%- do steps.append(["canary", plan.canary]) %}
{%- endif %}
{%- for wave in plan.waves %}
{%- do steps.append(["wave-" ~ loop.index, wave]) %}
{%- endfor %}

{%- for name, minions in steps %}
assist-rollout-{{ name }}:
  salt.state:
    - name: {{ (name ~ ": " ~ minions | join(", ")) | tojson }}
    - tgt: {{ minions | tojson }}
    - tgt_type: list
    - sls: assist
    - failhard: True
{%- if not loop.first %}
    - require:
      - salt: assist-rollout-{{ loop.previtem[0] }}-audit
{%- endif %}

assist-rollout-{{ name }}-audit:
  salt.runner:
    - name: assist.report
    - tgt: {{ minions | tojson }}
    - tgt_type: list
    - strict: True
    - failhard: True
    - require:
      - salt: assist-rollout-{{ name }}
{% endfor %}
assist-rollout-report:
  salt.runner:
    - name: assist.report
    - tgt: {{ plan.target | tojson }}
    - tgt_type: compound
    - strict: True
{%- if steps %}
    - require:
      - salt: assist-rollout-{{ steps[-1][0] }}-audit
{%- endif %}
