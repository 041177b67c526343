# The two commands: `make run` serves the API with the sample data, `make test` runs the suite.
# Both set up everything they need: Debian packages, the virtualenv (at the versions recorded in
# requirements.lock), the database, Redis and the front proxy.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock

.PHONY: run test app stop bench lint system-deps install clean lock screenshots docs-assets \
	translations

run: install system-deps docs-assets
	$(BIN)/python -m backend.serve

test: install system-deps docs-assets
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The cardholder's Kivy app against the backend that `make run` serves (run that first).
NEARBANK_API ?= http://127.0.0.1:8000
app: install system-deps
	$(BIN)/python -m mobile --api $(NEARBANK_API) $(APP_ARGS)

# Refresh the committed screenshots in docs/screenshots/ (the screen tests alone write to a
# temporary folder).
screenshots: install system-deps
	NEARBANK_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/mobile/ui -q

# The server's message catalogues: collect the marked texts (gettext, N_) into the template,
# merge them into each language's .po (translate the new entries there), compile the .mo files
# (committed, so that neither `make run` nor `make test` needs this step).
translations: install
	$(BIN)/pybabel extract -F backend/babel.cfg -k N_ --no-location --sort-output \
		--omit-header -o backend/translations/messages.pot backend
	$(BIN)/pybabel update -i backend/translations/messages.pot -d backend/translations \
		--ignore-obsolete --no-fuzzy-matching
	$(BIN)/pybabel compile -d backend/translations

# Stops everything `make run` started: the front, gunicorn, Redis and PostgreSQL.
stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m backend.serve stop; fi

bench: install system-deps
	@bash bench/system-deps.sh
	umask 077 && $(BIN)/python -m bench.run $(BENCH_ARGS)

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

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c $(LOCK) -e '.[dev,app]'
	touch $@

# Record the exact versions a fresh install resolves today (after changing pyproject.toml's
# dependencies): a clean virtualenv in a temporary folder, then `pip freeze` into the lock.
# Dependencies not in the lock yet still install (constraints only pin what they list).
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/pip" install -q --upgrade pip && \
	"$$tmp/venv/bin/pip" install -q -e '.[dev,app]' && \
	{ echo "# Exact versions of every dependency: regenerate with 'make lock'."; \
	  "$$tmp/venv/bin/pip" freeze --exclude-editable; } > $(LOCK).new && \
	mv $(LOCK).new $(LOCK) && echo "wrote $(LOCK)"

# Stops everything, then removes the private services' data (wherever it lives) and .venv.
clean:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m backend.serve clean; fi
	rm -rf var $(VENV)
