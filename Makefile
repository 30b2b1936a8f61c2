# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test lint typecheck chromium pytest pytest-sqlite pytest-pg venv clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p var
	$(BIN)/minyi migrate
	$(BIN)/minyi demo --if-empty
	test -e var/models/latest || $(BIN)/minyi model train --models-dir var/models
	# One SLA worker beside the server (timers, warnings, cards, notifications); Ctrl-C stops both.
	$(BIN)/minyi worker --interval 5 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/minyi serve --host 127.0.0.1 --port 8000

test: $(STAMP) lint typecheck chromium pytest

# The browser tests (tests/browser) drive Debian's Chromium: install it when it is missing.
# They fail, never skip, without it.
chromium:
	@test -x /usr/bin/chromium || { \
		sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$sudo apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	}

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks migrations
	$(BIN)/ruff format --check src tests benchmarks migrations

typecheck: $(STAMP)
	$(BIN)/mypy

# The suite runs on SQLite, then again on PostgreSQL. Outside CI a missing
# PostgreSQL only skips the second run (with a loud note); in CI it fails.
pytest: pytest-sqlite pytest-pg

pytest-sqlite: $(STAMP)
	MINYI_TEST_DB=sqlite $(BIN)/pytest -q

pytest-pg: $(STAMP)
	@url="$${MINYI_TEST_PG_URL:-$(PG_URL)}"; \
	if $(BIN)/python -m minyi.core.pgcheck "$$url"; then \
		MINYI_TEST_DB=postgresql MINYI_TEST_PG_URL="$$url" $(BIN)/pytest -q; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL did not answer at $$url and CI needs it" >&2; exit 1; \
	else \
		echo "*** PostgreSQL did not answer at $$url: the PostgreSQL run was NOT done ***" >&2; \
	fi

bench: $(STAMP)
	$(BIN)/python benchmarks/lookup.py
	$(BIN)/python benchmarks/intake.py
	$(BIN)/python benchmarks/listing.py --databases postgresql,sqlite

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
