# The two commands: `make run` (the app on its embedded default) and `make test` (the suite).
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
# Where the worker reaches the web server: the demo model's endpoints point at SITE_URL/demo-model/v1.
SITE_URL ?= http://$(HOST):$(PORT)
export SITE_URL
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py

# The first Python 3.12+ on this machine (pyenv installs included).
FIND_PYTHON = for c in python3.14 python3.13 python3.12 $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 python3; do \
	if "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then echo "$$c"; exit 0; fi; \
	done; echo "Refusal Audit needs Python 3.12 or newer" >&2; exit 1

.PHONY: install run worker beat test test-e2e lint format bench clean

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || "$$($(FIND_PYTHON))" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed

run: install
	DEBUG=1 $(MANAGE) migrate --noinput
	DEBUG=1 $(MANAGE) seed_demo
	@echo ""
	@echo "  Refusal Audit is starting on http://$(HOST):$(PORT)/  (Ctrl-C stops the web server, the worker and beat)"
	@echo ""
	@# Worker and beat are stopped by their pids and waited for, so none is left behind after Ctrl-C.
	@DEBUG=1 $(BIN)/celery -A reviewapp worker --loglevel warning --concurrency 2 & worker=$$!; \
	DEBUG=1 $(BIN)/celery -A reviewapp beat --loglevel warning & beat=$$!; \
	trap 'kill -TERM $$worker $$beat 2>/dev/null; wait $$worker $$beat' EXIT INT TERM; \
	DEBUG=1 $(MANAGE) runserver $(HOST):$(PORT)

worker: install
	$(BIN)/celery -A reviewapp worker --loglevel info

beat: install
	$(BIN)/celery -A reviewapp beat --loglevel info

# SQLite and the filesystem broker unless DATABASE_URL / REDIS_URL are set.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Only the browser tests (headless /usr/bin/chromium); screenshots go to $(SCREENSHOT_DIR).
SCREENSHOT_DIR ?= test-artifacts/screenshots
test-e2e: install
	SCREENSHOT_DIR=$(SCREENSHOT_DIR) $(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var db.sqlite3 staticfiles .pytest_cache
