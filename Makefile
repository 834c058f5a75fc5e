# The two commands of the README: `make run` (portal on the embedded default) and `make test` (the suite on
# real PostgreSQL and Redis). Everything else here serves them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test prod-smoke lint format bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	@# uv installs this set ~8x faster than pip; pip stays the fallback when uv cannot be had.
	$(BIN)/python -m pip install -q uv || true
	if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install -q --python $(BIN)/python -e ".[dev]"; \
	else $(BIN)/python -m pip install -q -e ".[dev]"; fi
	touch $@

run: $(VENV)/.installed
	PORT=$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" scripts/run.sh

test: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/test.sh $(ARGS)

# The README's production path end to end (scripts/prod_smoke.sh): DEBUG off with explicit secrets, collectstatic,
# migrations on a throwaway PostgreSQL, uvicorn as the README starts it, then pages and a /v1 call fetched from it.
prod-smoke: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/prod_smoke.sh

# The data-plane benchmark (bench/run.py; README "Performance"): prints the tables, ~4 minutes; ARGS=--quick
# for a smoke run, ARGS=--profile to add a py-spy profile. It measures timing, so it is never part of `test`.
bench: $(VENV)/.installed
	$(BIN)/python bench/run.py $(ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=true $(BIN)/python manage.py check --fail-level WARNING

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 var
