# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test
# The oldest supported Salt release (dependency group test-3007), for `make test-matrix`.
VENV_3007 ?= .venv-3007
PY_3007 := $(VENV_3007)/bin/python
STAMP_3007 := $(VENV_3007)/.installed-test-3007
# The system tier needs containers (systemd-nspawn as PID 1 hosts): `make test` only.
MATRIX_TIERS := tests/unit tests/functional tests/integration

.PHONY: test unit functional integration system demo test-matrix test-3007 clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet --group test
	touch $@

$(STAMP_3007): pyproject.toml
	test -x $(PY_3007) || $(PYTHON) -m venv $(VENV_3007)
	$(PY_3007) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY_3007) -m pip install --quiet --group test-3007
	touch $@

test: $(STAMP)
	$(PY) -m pytest tests

demo: $(STAMP)
	$(PY) demo/run.py

unit functional integration system: $(STAMP)
	$(PY) -m pytest tests/$@

# Unit, functional and integration tiers on every supported Salt release: 3008.4 (the
# pin, .venv) and 3007.16 (.venv-3007). Both releases always run; fails if either fails.
test-matrix: $(STAMP) $(STAMP_3007)
	@status=0; for py in $(PY) $(PY_3007); do \
		echo "== salt $$($$py -c 'import salt.version; print(salt.version.__version__)') ($$py)"; \
		$$py -m pytest $(MATRIX_TIERS) || status=1; \
	done; exit $$status

# The same tiers on 3007.16 alone: .ci/run adds it to `make test`, which covers 3008.4.
test-3007: $(STAMP_3007)
	$(PY_3007) -m pytest $(MATRIX_TIERS)

clean:
	rm -rf $(VENV) $(VENV_3007) .pytest_cache .hypothesis demo-work

# Benchmark (issue 6): ratios against baselines measured in the same run; table on
# stdout, JSON in bench/results/latest.json. `bench` is also a folder: hence .PHONY.
.PHONY: bench
bench: $(STAMP)
	$(PY) bench/run.py
