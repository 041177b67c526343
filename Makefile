# The two commands: `make run` serves the API with the sample data, `make test` runs the suite.
# Both set up everything they need: Debian packages, the virtualenv, the database.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test stop bench lint system-deps install clean

run: install system-deps
	$(BIN)/python -m backend.serve

test: install system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m backend.pgcluster stop var/pgdata; fi

bench: install system-deps
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .

system-deps:
	@bash scripts/system-deps.sh

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

clean: stop
	rm -rf var $(VENV)
