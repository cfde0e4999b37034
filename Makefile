# Huibao — the two commands that matter are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo port-free test install system-deps lint typecheck migrations-check test-sqlite test-postgres run bench clean

$(STAMP): pyproject.toml
	@echo "Installing Huibao's Python packages into $(VENV) (one to three minutes the first time)…"
	@test -x $(PY) || $$(scripts/find-python) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## Install everything, set up SQLite with the demo market and start the platform.
demo: port-free install
	scripts/make-dotenv
	$(PY) manage.py setup_demo
	@echo "Huibao is starting at http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/docs); Ctrl-C stops it."
	@# The task worker (notifications, PDFs, insurer deliveries), the periodic sweeps, the daily
	@# jobs' scheduler and the audit chain's sealer run beside the web server and stop with it. Only these children are
	@# stopped: `kill 0` would also kill make itself, which then reports a bogus "Segmentation fault".
	@trap 'kill $$(jobs -p) 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	  HUIBAO_PUBLIC_URL=http://$(HOST):$(PORT) $(PY) manage.py db_worker --interval 0.2 & \
	  HUIBAO_PUBLIC_URL=http://$(HOST):$(PORT) $(PY) manage.py run_sweeps --loop 30 & \
	  HUIBAO_PUBLIC_URL=http://$(HOST):$(PORT) $(PY) manage.py run_scheduler & \
	  $(PY) manage.py seal_audit --loop 0.5 & \
	  HUIBAO_PUBLIC_URL=http://$(HOST):$(PORT) $(PY) manage.py runserver $(HOST):$(PORT) --noreload

# Before the minute of set-up: say at once when another server holds the demo's port.
port-free:
	@if (exec 3<>/dev/tcp/$(HOST)/$(PORT)) 2>/dev/null; then \
	  echo "Port $(PORT) on $(HOST) is already in use (another Huibao?): stop it, or run: make demo PORT=8001" >&2; \
	  exit 1; fi

## Debian packages the browser and signature tests need (root on Debian; skipped when present).
system-deps:
	@scripts/system-deps

## Install everything and run the whole test suite: lint, types, migrations, SQLite, PostgreSQL.
test: install system-deps lint typecheck migrations-check test-sqlite test-postgres

## ruff, and the import contracts of pyproject.toml (apps and modules in layers; docs/architecture.md).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: install
	$(VENV)/bin/mypy huibao bench

migrations-check: install
	$(PY) manage.py makemigrations --check --dry-run

test-sqlite: install
	DATABASE_URL=sqlite:///var/test.sqlite3 $(VENV)/bin/pytest -p no:cacheprovider

test-postgres: install
	@if scripts/pg-ready "$(PG_URL)"; then \
	  DATABASE_URL=$(PG_URL) $(VENV)/bin/pytest -p no:cacheprovider; \
	elif [ -n "$$CI" ] || [ -n "$$REQUIRE_POSTGRES" ]; then \
	  echo "PostgreSQL at $(PG_URL) is not reachable" >&2; exit 1; \
	else echo "PostgreSQL at $(PG_URL) is not reachable: skipping the PostgreSQL run"; fi

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
