# The few commands a newcomer needs. `make demo` and `make test` are the README's contract:
# on a fresh machine they install everything they need themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
VENDOR := site/node_modules/.package-lock.json
export NO_MKDOCS_2_WARNING := 1
export DISABLE_MKDOCS_2_WARNING := true

.PHONY: demo test bench lint format serve install vendor system-deps clean

demo: install vendor ## Build the KB (./kb.sqlite, the default every command reads) and the site, offline
	$(BIN)/kb build --topic calcinosis --db sqlite:///kb.sqlite --site-dir build/site
	@echo
	@echo "Done. The knowledge base is kb.sqlite (the default of every kb command and of 'import queries');"
	@echo "the site is build/site/index.html."
	@echo "Browse:  open build/site/index.html, or run 'make serve' and visit http://127.0.0.1:8000/"
	@echo "Query:   $(BIN)/python -c \"import queries; print(queries.treatments_for('calcinosis', context='systemic sclerosis'))\""

test: install vendor system-deps ## Install what the tests need (incl. PostgreSQL) and run them
	$(BIN)/pytest

bench: install vendor ## Run the benchmarks and print ratios against their baselines
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python tests/benchmarks/run.py

lint: install ## ruff (lint and format check) and mypy
	$(BIN)/ruff check kb ingest queries tests site/hooks
	$(BIN)/ruff format --check kb ingest queries tests site/hooks
	$(BIN)/mypy

format: install
	$(BIN)/ruff format kb ingest queries tests site/hooks
	$(BIN)/ruff check --fix kb ingest queries tests site/hooks

serve: ## Serve the built site on http://127.0.0.1:8000/
	@test -f build/site/index.html || $(MAKE) demo
	$(BIN)/kb serve --site-dir build/site

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

vendor: $(VENDOR) ## Browser code the site bundles (from npm, never committed)

$(VENDOR): site/package.json site/package-lock.json
	@command -v npm >/dev/null || sh tests/setup/system-packages.sh nodejs npm
	npm ci --prefix site --no-audit --no-fund --loglevel=error
	touch $@

system-deps: ## Debian packages the tests need (PostgreSQL server, Chromium for the browser tests)
	@sh tests/setup/system-packages.sh postgresql chromium

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache site/node_modules
