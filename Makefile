# The README's Quick start: `make build` and `make test` set up what they need, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CKAN_VENV := .venv-ckan
CKAN_PLUGIN := tests/ckan/ckanext-opendata_test
AUDIT_TOOLS := node_modules/.audit

.PHONY: build test audit lint bench browser nginx audit-tools

build: $(VENV)/.core
	$(BIN)/opendata build

test: $(VENV)/.test browser nginx $(CKAN_VENV)/.ckan $(AUDIT_TOOLS)
	$(BIN)/python -m pytest -q -m "not lighthouse"

# Lighthouse (mobile) on the served site: ~40 s, so apart from `make test`; CI runs both.
audit: $(VENV)/.test browser $(AUDIT_TOOLS)
	$(BIN)/python -m pytest -q -m lighthouse tests/test_site_audit.py

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

# Debian's nginx for tests/test_stats_nginx.py (a web root made by `publish --to`, its real
# access log counted by `opendata stats`); the test starts it itself on a free loopback port.
nginx:
	@{ command -v nginx >/dev/null || test -x /usr/sbin/nginx; } || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }

# The site auditors of tests/test_site_audit.py, pinned in package.json and package-lock.json:
# axe-core, the Nu HTML checker (vnu-jar, on Debian's Java) and Lighthouse (on Debian's
# Chromium). --ignore-scripts: vnu-jar's postinstall would download a Java of its own.
audit-tools: $(AUDIT_TOOLS)
$(AUDIT_TOOLS): package.json package-lock.json
	@command -v java >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; }
	@command -v npm >/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

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

# Datasette 0.65 for benchmarks/bench_serve.py --datasette only (its own venv: a user's pick
# to compare with, not one of our dependencies).
.venv-datasette/.ok:
	$(PYTHON) -m venv .venv-datasette
	.venv-datasette/bin/pip install -q 'datasette==0.65.*'
	touch $@
