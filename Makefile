# humas — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test test-e2e test-browser lint format messages clean help

help:
	@echo "make run        install (first time), migrate, seed the demo and start web + worker"
	@echo "make test       the test suite (set DATABASE_URL=postgres://… for PostgreSQL)"
	@echo "make test-e2e   end-to-end tests against a real local Bluesky network (needs npm)"
	@echo "make lint       ruff format --check, ruff check, mypy"
	@echo "make messages   refresh and compile the Indonesian catalogue"

# Installing is redone only when pyproject.toml changes (the stamp files are newer otherwise).
$(VENV)/.runtime: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "humas needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

# Links in e-mails and the address printed below follow HOST and PORT unless SITE_URL is set.
run: export SITE_URL ?= http://$(HOST):$(PORT)
run: $(VENV)/.runtime
	$(BIN)/humas migrate --noinput -v 0
	$(BIN)/humas seeddemo
	$(BIN)/humas serve --host $(HOST) --port $(PORT)

test: $(VENV)/.dev
	$(BIN)/pytest -m "not e2e"

# Installs Bluesky's own server software (Node 22 from npm) into e2e/bluesky on first use.
test-e2e: $(VENV)/.dev
	$(BIN)/pytest -m e2e

test-browser: $(VENV)/.dev
	$(BIN)/pytest -m browser

lint: $(VENV)/.dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy humas

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

messages: $(VENV)/.dev
	cd humas && ../$(BIN)/humas makemessages -l id --no-location --no-obsolete -i "*/tests/*"
	cd humas && ../$(BIN)/humas compilemessages -l id

clean:
	rm -rf $(VENV) var/static test-artifacts
