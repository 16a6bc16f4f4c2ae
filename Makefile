# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
STAMP := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml 2>/dev/null | sha1sum | cut -c1-12)
PORT ?= 8000
PYTEST_ARGS ?=
# axe-core (npm) for the accessibility browser test, installed with the machine's npm into tests/vendor (git-ignored).
AXE_VERSION := 4.10.3
AXE := tests/vendor/node_modules/axe-core/axe.min.js

.PHONY: install axe demo test lint lock clean

$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (set PYTHON=/path/to/python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

$(AXE):
	@command -v npm >/dev/null || { echo "npm is required to install axe-core for the accessibility test"; exit 1; }
	npm install --prefix tests/vendor --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
	  axe-core@$(AXE_VERSION)

axe: $(AXE)

demo: install
	$(BIN)/python -m portal.demo --port $(PORT)

# Browser tests need Debian's Chromium at /usr/bin/chromium (.ci/run installs it); without it they are
# deselected and the run says so. pytest's exit code 5 (no tests collected) is a failure of the setup.
test: install
	@if [ -x /usr/bin/chromium ]; then $(MAKE) --no-print-directory axe; fi
	$(BIN)/lint-imports --no-cache
	@set -o pipefail; \
	if [ -x /usr/bin/chromium ]; then marks=""; else marks="-m not browser"; \
	  echo "NOTE: /usr/bin/chromium not found: browser tests deselected (apt-get install chromium to run them)"; fi; \
	$(BIN)/python -m pytest $${marks:+"$$marks"} $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the test setup is broken"; exit 1; fi; exit $$rc

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^bc-sales-portal' > $(LOCK)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache tests/vendor
