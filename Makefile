# netsword: the two commands are `make demo` and `make test`; everything else they need is set up here.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test bench lint browser redis install testengine clean screenshots

demo: install browser
	$(BIN)/netsword demo

test: install browser redis testengine
	$(BIN)/ruff check .
	$(BIN)/netsword rules lint
	$(BIN)/netsword rules test
	$(BIN)/pytest

bench: install browser redis testengine
	$(BIN)/python -m bench

screenshots: install browser
	$(BIN)/python scripts/console-screenshots.py

lint: install
	$(BIN)/ruff check .

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Makes sure a Chromium exists for the browser-rendered pages (see scripts/ensure-browser.sh).
browser: install
	sh scripts/ensure-browser.sh $(BIN)

# Redis (the distributed mode's frontier; its tests) and nginx-light (bench/); see scripts/ensure-redis.sh.
# `make demo` needs neither.
redis:
	sh scripts/ensure-redis.sh

# Builds the tests' real search engine, OpenSearch from Maven Central (see scripts/ensure-testengine.sh).
testengine:
	sh scripts/ensure-testengine.sh

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info deploy/testengine/target
