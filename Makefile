# Two commands matter: `make run` and `make test` (see README). Both build .venv/ from pyproject.toml,
# pinned by constraints.txt (regenerate with `make lock`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run test lint typecheck bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -c constraints.txt -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -c constraints.txt -e '.[test]'
	@touch $@ $(VENV)/.installed-run

# Development mode: no client authentication (--allow-unauthenticated); never expose it to a network.
# Production: set CDSHOOKS_CLIENTS_FILE (README, Security) and run `cdshooks serve` without the flag.
# A busy port stops it with one line ("port 8080 is in use; try `make run PORT=9000`") before anything starts.
run: $(VENV)/.installed-run
	@$(BIN)/python -m cdshooks.ports $(HOST) $(PORT)
	@echo "WARNING: DEVELOPMENT MODE - client JWTs are NOT checked (--allow-unauthenticated); fhirServer limited to"
	@echo "         CDSHOOKS_FHIR_ALLOWLIST (default: loopback). Keep it on $(HOST); production needs CDSHOOKS_CLIENTS_FILE."
	@echo "Embedded defaults (SQLite under ./var); discovery: http://$(HOST):$(PORT)/cds-services"
	$(BIN)/cdshooks serve --host $(HOST) --port $(PORT) --allow-unauthenticated

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

# Type check cdshooks/ (configuration: [tool.mypy] in pyproject.toml); part of `make test`.
typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py

# Re-resolve every dependency to the newest allowed version and pin the result.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -m pip install --quiet --disable-pip-version-check '.[test]'
	.lockvenv/bin/python -m pip freeze --exclude cdshooks-bonemets > constraints.txt
	rm -rf .lockvenv

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
