# The README's two commands, `make demo` and `make test`, set up everything they need:
# Debian packages (tests/deps.sh; installed when run as root, named otherwise), then a
# virtualenv with the pinned test dependencies from pyproject.toml.
PYTHON ?= python3
DEPS := sh tests/deps.sh

# .venv holds the release `make test` pins (3008.4); .venv-3007 and .venv-3006 hold the
# other supported releases (dependency groups test-3007, test-3006) for the matrix, which
# runs their tiers once each: 3008.4's ran in `make test`.
VENV := .venv
PY := $(VENV)/bin/python
MATRIX_VENVS := .venv-3006 .venv-3007
# The system tier boots containers; it runs once, in `make test`, on the pinned release.
MATRIX_TIERS := tests/unit tests/functional tests/integration

.PHONY: check test docs unit functional integration system windows demo test-matrix bench count clean

$(VENV)/.installed: pyproject.toml
	$(DEPS) build
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet --group test
	touch $@

.venv-%/.installed: pyproject.toml
	$(DEPS) build
	test -x .venv-$*/bin/python || $(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	.venv-$*/bin/python -m pip install --quiet --group test-$*
	touch $@

# The docs' own dependencies (dependency group docs), beside the tests'.
$(VENV)/.docs-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet --group docs
	touch $@

demo: $(VENV)/.installed
	$(PY) demo/run.py

# The lint: the hooks of .pre-commit-config.yaml (ruff, configured in pyproject.toml) on
# every file git tracks, as a commit with the hooks installed runs them on its files.
LINT := $(PY) -m pre_commit run --all-files

# The syndic test runs Salt 3007's daemons (3008.4's syndic is broken; see
# tests/integration/syndic.py), so the integration tier needs .venv-3007 too.
SYNDIC_VENV := .venv-3007/.installed

# The inner loop: lint, then the tiers that need neither root nor daemons (the tests
# carry tier markers: pytest -m "not root" and the like pick across tiers).
# Without root, the tests marked root (tests/conftest.py: a full file system is a tmpfs
# mounted) are left out by their marker; as root, and in CI, every test runs.
ROOT_ONLY := $(if $(filter 0,$(shell id -u)),,-m "not root")

check: $(VENV)/.installed
	$(DEPS) unit
	$(LINT)
	$(PY) -m pytest -q tests/unit tests/functional tests/support $(ROOT_ONLY)

# The docs site (docs/) into build/docs; any warning is an error (-W, nitpicky -n), a
# fresh read of every page each time (-E) so that none is skipped.
DOCS := $(PY) -m sphinx -b html -W --keep-going -n -E -q -d build/docs/.doctrees docs build/docs

docs: $(VENV)/.docs-installed
	$(DOCS)

test: $(VENV)/.docs-installed $(SYNDIC_VENV)
	$(DEPS) unit system ssh upstart agent wine redis
	$(LINT)
	$(DOCS)
	$(PY) -m pytest tests

unit: $(VENV)/.installed
	$(DEPS) unit
	$(PY) -m pytest tests/unit tests/support
functional: $(VENV)/.installed
	$(PY) -m pytest tests/functional $(ROOT_ONLY)
integration: $(VENV)/.installed $(SYNDIC_VENV)
	$(DEPS) ssh redis
	$(PY) -m pytest tests/integration
system: $(VENV)/.installed
	$(DEPS) system upstart agent
	$(PY) -m pytest tests/system

# Salt for Windows under Wine, against Wine's service control manager (needs root).
windows: $(VENV)/.installed
	$(DEPS) wine
	$(PY) -m pytest tests/windows

# Unit, functional and integration tiers on the other supported Salt releases (3006.29,
# 3007.16; `make test` ran them on 3008.4), side by side (tests/matrix.sh). Every release
# runs; the target fails if any fails.
# Tests a leg leaves out (VENV=TEST, or all=TEST for every leg), each for its reason:
# - the syndic tests on 3007: `make test` ran them on Salt 3007's own daemons
#   (SYNDIC_VENV), the very ones the 3007 leg would start for them;
# - gitfs serving the project: shown in `make test`; what it delivers, an upgrade in
#   place, test_upgrade.py shows on every release;
# - the two-master drift tests (the reactor's runs, a lost event): the release-bound part
#   of a shared cache, a key deleted on one master (3006 and 3007 flush the others'
#   minions), runs on every release, the reactor's side in `make test`;
# - fifty stop/start cycles under a live watchdog: a soak of the module's own logic and
#   the fake agent, which no Salt release changes (the rest of the tier runs on each).
SHARED_CACHE := tests/integration/test_shared_cache.py
MATRIX_LEAVE_OUT := .venv-3007=tests/integration/test_syndic.py all=tests/integration/test_gitfs.py \
	all=tests/functional/test_reliability.py::test_fifty_stop_start_cycles_under_a_live_watchdog \
	all=$(SHARED_CACHE)::test_a_drift_with_two_masters_is_put_back_by_each_once \
	all=$(SHARED_CACHE)::test_a_drift_whose_event_is_lost_is_put_back_after_the_masters_return

test-matrix: $(addsuffix /.installed,$(MATRIX_VENVS))
	$(DEPS) unit ssh redis
	sh tests/matrix.sh "$(MATRIX_VENVS)" "$(MATRIX_TIERS)" "$(MATRIX_LEAVE_OUT)"

# Benchmark: ratios against baselines measured in the same run; table on stdout, JSON in
# bench/results/latest.json. The full run grows a fleet to 100 minions (25 to 35 minutes on
# 2 cores, about 6 GB of memory); `make bench BENCH_ARGS=--quick` stops at 20.
BENCH_ARGS ?=
bench: $(VENV)/.installed
	$(DEPS) unit redis bench
	$(PY) bench/run.py $(BENCH_ARGS)

# How many tests each tier holds, as pytest collects them (docs/testing.md keeps no count).
TIERS := unit functional integration system windows support
count: $(VENV)/.installed
	@for tier in $(TIERS); do printf '%-12s ' "$$tier"; $(PY) -m pytest --collect-only -q -p no:cacheprovider tests/$$tier 2>/dev/null | tail -1; done

clean:
	rm -rf $(MATRIX_VENVS) .pytest_cache .hypothesis demo-work build/docs
