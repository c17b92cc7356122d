# Two commands: `make run` (the whole app on SQLite, its broker a SQLite file too) and `make test`.
# DATABASE_URL and REDIS_URL switch both to PostgreSQL and Redis.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=

.PHONY: run test migrate seed clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# The translations' .po files compiled to .mo (msgfmt if installed, else pure Python: see
# recovery/translations.py). Development settings: compiling needs no production SECRET_KEY.
translations: $(VENV)/.runtime
	DEBUG=1 $(BIN)/python manage.py compile_translations

migrate: $(VENV)/.runtime translations
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# Development: the public key, plain HTTP (with DEBUG off the settings want a SECRET_KEY and redirect to HTTPS).
run migrate seed: export DEBUG ?= 1
run: export LOG_FORMAT ?= plain
run: seed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start

test: $(VENV)/.dev translations
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

clean:
	rm -rf var db.sqlite3 tests/artifacts
