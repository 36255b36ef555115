# The README's Quick start: `make build` and `make test` set up what they need, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CKAN_VENV := .venv-ckan
CKAN_PLUGIN := tests/ckan/ckanext-opendata_test

.PHONY: build test lint bench browser

build: $(VENV)/.core
	$(BIN)/opendata build

test: $(VENV)/.test browser $(CKAN_VENV)/.ckan
	$(BIN)/python -m pytest -q

lint: $(VENV)/.test
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: $(VENV)/.test
	$(BIN)/python benchmarks/bench_build.py

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.core

# Debian's Chromium for the site tests (and CJK fonts for their screenshots).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

# A real CKAN 2.12 for tests/ckan_site.py: its own venv (its pins clash with ours; plain
# `ckan` installs none of its runtime deps), the test-only plugin, and Debian's PostgreSQL 15
# and Redis, which the fixture starts itself on free loopback ports.
$(CKAN_VENV)/.ckan: tests/ckan/requirements.txt $(CKAN_PLUGIN)/pyproject.toml $(wildcard $(CKAN_PLUGIN)/ckanext/opendata_test/*.py)
	@{ test -x /usr/lib/postgresql/15/bin/initdb && command -v redis-server >/dev/null; } || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq postgresql-15 redis-server >/dev/null; }
	$(PYTHON) -m venv $(CKAN_VENV)
	$(CKAN_VENV)/bin/pip install -q -r tests/ckan/requirements.txt ./$(CKAN_PLUGIN)
	touch $@
