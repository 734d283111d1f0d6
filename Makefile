# SLS portal: everyday commands.
#
#   make run           demo on http://127.0.0.1:8000 (web + Celery worker with beat); make run PORT=8001
#   make demo-card     a demo client's card codes: make demo-card CLIENT=enrolled1 POSITIONS="12 187"
#   make demo-totp     the demo agent's admin code: make demo-totp (AGENT=agent)
#   make demo-device   what a demo client's device shows: make demo-device CLIENT=gold1 QUESTION=123456 (or SERIAL=...)
#   make demo-reset    the demo from scratch: new database and broker, demo data again
#   make test          linters, import layers, then the whole pytest suite (DATABASE_URL / CELERY_BROKER_URL pass through)
#   make check-deploy  Django's deployment checks with production-like settings
#   make bench         login throughput against raw Argon2 (benchmarks/RESULTS.md)
#   make bench-jobs    the jobs at 1,000,000 rows against one bulk statement (PostgreSQL)
#   make clean         remove generated files (make distclean: also .venv and var/)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.requirements-installed
MANAGE := $(BIN)/python manage.py

# The demo always runs in DEBUG on SQLite (var/db.sqlite3) with the
# filesystem Celery broker (var/broker), whatever the shell exports.
DEV_ENV := env -u DATABASE_URL -u CELERY_BROKER_URL DEBUG=1

PORT      ?= 8000
CLIENT    ?= enrolled1
POSITIONS ?=
AGENT     ?= agent
SERIAL    ?=
QUESTION  ?=

.PHONY: help venv run demo-card demo-totp demo-device demo-reset test lint check-deploy bench bench-jobs clean distclean

help:
	@sed -n '3,12p' Makefile | sed 's/^# \{0,1\}//'

# --- virtual environment --------------------------------------------------

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file is newer than the stamp. The
# site's own packages are in requirements.txt; tests, linters and
# benchmarks add requirements-dev.txt (the production image has only the first).
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(STAMP)

# --- demo -----------------------------------------------------------------

# Ctrl-C, a TERM, or either process exiting stops both: each gets a TERM,
# stops its own children (runserver's reloaded child, celery's embedded
# beat) and is waited for; each runs in its own process group (set -m), so
# anything left over is then killed with its group.
run: venv
	mkdir -p var
	$(DEV_ENV) $(MANAGE) migrate --noinput
	$(DEV_ENV) PORT=$(PORT) $(MANAGE) seed_demo
	@if command -v msgfmt >/dev/null; then \
		$(DEV_ENV) $(MANAGE) compilemessages --ignore=$(VENV) --ignore=node_modules; \
	else \
		echo "msgfmt not found: using the committed .mo files"; \
	fi
	@set -m; \
	stop() { \
		trap '' INT TERM; trap - EXIT; \
		kill -TERM $$web $$worker 2>/dev/null; wait; \
		kill -KILL -- -$$web -$$worker 2>/dev/null; true; \
	}; \
	trap stop INT TERM EXIT; \
	$(DEV_ENV) PORT=$(PORT) $(MANAGE) runserver 127.0.0.1:$(PORT) & web=$$!; \
	$(DEV_ENV) $(BIN)/celery -A sls_portal worker -B --pool=solo -l info & worker=$$!; \
	wait -n

# The demo's helpers read the demo's database (var/db.sqlite3) with its
# settings, whatever DATABASE_URL the shell exports.
demo-card: venv
	@$(DEV_ENV) $(MANAGE) demo_card $(CLIENT) $(POSITIONS)

demo-totp: venv
	@$(DEV_ENV) $(MANAGE) demo_totp $(AGENT)

# The current code of a time-based device, or the response to QUESTION
# (the challenge step 2 shows) of a challenge-response one.
demo-device: venv
	@$(DEV_ENV) $(MANAGE) device_simulator $(if $(SERIAL),$(SERIAL),--client $(CLIENT)) --question "$(QUESTION)"

# Stop `make run` first: the demo starts again from an empty database.
demo-reset: venv
	rm -f var/db.sqlite3 var/db.sqlite3-wal var/db.sqlite3-shm var/celerybeat-schedule*
	rm -rf var/broker
	mkdir -p var
	$(DEV_ENV) $(MANAGE) migrate --noinput
	$(DEV_ENV) $(MANAGE) seed_demo

# --- checks ---------------------------------------------------------------

# Chromium for the browser tests where it can be installed (scripts/ensure-chromium);
# elsewhere those tests skip with one line saying why (tests/conftest.py).
test: venv lint
	@scripts/ensure-chromium
	$(BIN)/pytest

# Style, the import layers (pyproject.toml), then the suite.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Production-like values: DEBUG off, real-looking random keys, TLS proxy.
check-deploy: venv
	env DEBUG=0 \
	    SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	    FIELD_ENCRYPTION_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	    ALLOWED_HOSTS=portal.example.com \
	    BEHIND_TLS_PROXY=1 \
	    $(MANAGE) check --deploy --fail-level WARNING

BENCH_ARGS ?=
bench: venv
	$(BIN)/python benchmarks/login.py $(BENCH_ARGS)

# PostgreSQL only: a database `bench_jobs` on DATABASE_URL's server
# (default postgres://postgres@127.0.0.1:5432/), dropped and made afresh.
bench-jobs: venv
	$(BIN)/python benchmarks/jobs.py $(BENCH_ARGS)

# --- housekeeping ---------------------------------------------------------

clean:
	rm -rf staticfiles .pytest_cache test-results var/broker var/celerybeat-schedule*
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) var
