# Two commands do all set-up on a fresh machine:
#   make demo   start Passgate on the embedded default (SQLite) with a demo organization
#   make test   run every check and the whole test suite (SQLite and a real PostgreSQL)

VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test install check lint typecheck system-deps peers clean

# Not quiet: pip names each package as it goes, with a bar per download on a terminal.
$(STAMP): pyproject.toml constraints.txt
	@echo "==> creating $(VENV) and installing Python packages (first run: 1-2 minutes)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar on --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	./scripts/install-system-deps.sh

PEERS := tests/peers/oidc
$(PEERS)/node_modules/.installed: $(PEERS)/package-lock.json
	cd $(PEERS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

peers: system-deps $(PEERS)/node_modules/.installed

demo: $(STAMP)
	$(BIN)/passgate demo

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck

test: system-deps peers check
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .passgate

# constraints.txt pins the versions the suite was last run with; refresh it with
#   .venv/bin/pip freeze --exclude-editable > constraints.txt
