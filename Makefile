# The two commands: `make run` serves the API with the sample data, `make test` runs the suite.
# Both set up everything they need: Debian packages, the virtualenv, the database.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test app stop bench lint system-deps install clean screenshots

run: install system-deps
	$(BIN)/python -m backend.serve

test: install system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The cardholder's Kivy app against the backend that `make run` serves (run that first).
NEARBANK_API ?= http://127.0.0.1:8000
app: install system-deps
	$(BIN)/python -m mobile --api $(NEARBANK_API) $(APP_ARGS)

# Refresh the committed screenshots in docs/screenshots/ (the screen tests alone write to a
# temporary folder).
screenshots: install system-deps
	NEARBANK_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/mobile/ui -q

stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m backend.pgcluster stop var/pgdata; fi

bench: install system-deps
	@bash bench/system-deps.sh
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .

system-deps:
	@bash scripts/system-deps.sh

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,app]'
	touch $@

clean: stop
	rm -rf var $(VENV)
