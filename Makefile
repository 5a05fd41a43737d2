# The registry's commands. `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format check venv install install-dev browser clean bench lock audit

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Installed from the lock files: every package pinned, each file checked against its hash (make lock writes them).
$(VENV)/.installed: requirements.lock | $(PY)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	touch $@

$(VENV)/.installed-dev: requirements.lock requirements-dev.lock $(VENV)/.installed
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	touch $@

# A local .env for development: DEBUG on and a fresh secret key (never committed).
.env:
	sed "s/^SECRET_KEY=.*/SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')/" .env.example > .env

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: set up everything and serve the registry on http://127.0.0.1:8000 (SQLite by default)
run: install .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_roles
	$(PY) manage.py load_initial_data
	$(PY) manage.py runserver $(HOST):$(PORT)

## test: install the test requirements and run the whole suite
test: install-dev .env
	$(PY) -m pytest $(PYTEST_ARGS)

## lint: ruff, mypy (the pure modules: pyproject.toml says which) and the migrations check
lint: install-dev .env
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) manage.py makemigrations --check --dry-run

## lock: pin every package, with its hashes, from the ranges in requirements.txt and requirements-dev.txt (the files
## people edit) into requirements.lock and requirements-dev.lock (for Python 3.11 on Linux), from the package index
## alone (no local wheel folders). Run it after editing a requirements file, and commit the locks with it.
TOOLS := .venv-tools
TOOL_PINS := pip-tools==7.6.2 pip-audit==2.10.1
COMPILE := env PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_EXTRA_INDEX_URL= $(TOOLS)/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
$(TOOLS)/.installed:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet $(TOOL_PINS)
	touch $@

lock: $(TOOLS)/.installed
	$(COMPILE) --output-file requirements.lock requirements.txt
	$(COMPILE) --constraint requirements.lock --output-file requirements-dev.lock requirements-dev.txt

## audit: known vulnerabilities in the locked packages (pip-audit asks PyPI's vulnerability service)
audit: $(TOOLS)/.installed
	$(TOOLS)/bin/pip-audit --strict --require-hashes --disable-pip --progress-spinner off -r requirements.lock
	$(TOOLS)/bin/pip-audit --strict --require-hashes --disable-pip --progress-spinner off -r requirements-dev.lock

## bench: the benchmark on the local PostgreSQL (databases bench_*) and SQLite; writes bench/RESULTS.md.
## Quick run: make bench BENCH_SIZES=2000
BENCH_SIZES ?= 1000,10000,100000
bench: install
	$(PY) bench/run.py --sizes "$(BENCH_SIZES)" $(BENCH_ARGS)

format: install-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

## serve: production: collect the static files, migrate, then gunicorn on $(BIND) (default 127.0.0.1:8000) with
## settings from the environment only (DEBUG off; see "Deploying" in the README). WORKERS, THREADS: gunicorn's.
## No control socket: gunicorn 27 puts it at one path in the home folder, shared by every instance on the machine.
BIND ?= 127.0.0.1:8000
WORKERS ?= 3
THREADS ?= 4
.PHONY: serve
serve: install
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py migrate --noinput -v0
	exec $(VENV)/bin/gunicorn config.wsgi --bind "$(BIND)" --workers "$(WORKERS)" --worker-class gthread \
		--threads "$(THREADS)" --access-logfile - --graceful-timeout 20 --no-control-socket

## loadtest: gunicorn on 127.0.0.1:8016 over the curated trials + 10,000, then + 100,000 synthetic ones (a PostgreSQL
## database of its own per size, made once and reused), the workers sharing a Redis cache when one answers at
## LOADTEST_CACHE_URL; driven by wrk, 30 s at 32 connections; figures in bench/RESULTS.md. Fails on any error or 5xx.
## Quick: make loadtest LOADTEST_SIZES=10000 LOADTEST_ARGS="--duration 10 --kind-duration 0"
LOADTEST_SIZES ?= 10000 100000
LOADTEST_PG_URL ?= postgres://postgres@127.0.0.1:5432
LOADTEST_CACHE_URL ?= redis://127.0.0.1:6379/0
.PHONY: loadtest
loadtest: install
	for size in $(LOADTEST_SIZES); do \
	  LOADTEST_DATABASE_URL="$(LOADTEST_PG_URL)/registry_loadtest_$$size" LOADTEST_CACHE_URL="$(LOADTEST_CACHE_URL)" \
	    $(PY) bench/loadtest.py --synthetic $$size --reuse $(LOADTEST_ARGS) || exit 1; \
	done

## install-page-checks: the npm packages of the page checks (axe-core, vnu-jar) in tests/a11y/node_modules
.PHONY: install-page-checks
install-page-checks: tests/a11y/node_modules/.installed
tests/a11y/node_modules/.installed: tests/a11y/package.json tests/a11y/package-lock.json
	cd tests/a11y && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache .mypy_cache
