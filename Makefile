# Trawl. `make demo` installs everything and runs the demo case; `make test` runs every test tier.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TRAWL := $(BIN)/trawl
INSTALLED := $(VENV)/.installed

.PHONY: demo test test-unit install fetch services-up services-down schemas check-schemas bench clean

$(INSTALLED): setup.cfg pyproject.toml
	scripts/system-deps.sh
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Trawl needs Python 3.11, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)

fetch: install
	$(TRAWL) fetch

services-up: fetch
	$(TRAWL) services up

services-down: install
	$(TRAWL) services down

## The demo: install, fetch the services and the SpamAssassin corpus, start the services, run.
demo: services-up
	$(TRAWL) demo run

## Every tier: unit, Spark, and integration against the real Elasticsearch and Tika.
test: fetch
	$(TRAWL) demo prepare
	$(BIN)/python tests/public_fixtures.py
	scripts/with-services.sh $(BIN)/python -m pytest -ra tests

## The benchmark (not part of `make test`): 100k and 1M messages against the naive, readpst and
## ceiling baselines; BENCH_ARGS=--large adds 5M. Writes docs/benchmarks.md. Run after `make demo`.
bench: services-up
	$(TRAWL) bench $(BENCH_ARGS)

test-unit: install
	$(BIN)/python -m pytest -ra tests/unit

schemas: install
	$(BIN)/python -m pipeline.schema

clean:
	-$(TRAWL) services down
	rm -rf var
