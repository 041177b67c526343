# The two commands: `make run` serves the API with the sample data, `make test` runs the suite.
# Both set up everything they need: Debian packages, the virtualenv, the database.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test app stop bench lint system-deps install clean docs-assets

run: install system-deps docs-assets
	$(BIN)/python -m backend.serve

test: install system-deps docs-assets
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The cardholder's Kivy app against the backend that `make run` serves (run that first).
NEARBANK_API ?= http://127.0.0.1:8000
app: install system-deps
	$(BIN)/python -m mobile --api $(NEARBANK_API) $(APP_ARGS)

stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m backend.pgcluster stop var/pgdata; fi

bench: install system-deps
	@bash bench/system-deps.sh
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .

system-deps:
	@bash scripts/system-deps.sh

# Swagger UI for /api/v1/docs, from the npm registry, pinned by version and integrity; the app
# serves it from vendor/swagger-ui (git-ignored). It reads OpenAPI 3.1.
SWAGGER_UI_VERSION := 5.35.0
SWAGGER_UI_INTEGRITY := sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
docs-assets: system-deps
	@bash scripts/docs-assets.sh $(SWAGGER_UI_VERSION) $(SWAGGER_UI_INTEGRITY) vendor/swagger-ui

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,app]'
	touch $@

clean: stop
	rm -rf var $(VENV)
