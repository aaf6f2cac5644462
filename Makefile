# Wayfinder: two commands set everything up on a fresh machine.
#   make demo   set up, load the bundled Birmingham reference data, generate and ingest a city-scale
#               scenario into an SQLite file, run the analyses, write the meeting packs, serve.
#   make test   set up (PostGIS included) and run every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WF := $(VENV)/bin/wayfinder
DEMO := demo
DEMO_DB := sqlite:///$(abspath $(DEMO))/wayfinder.sqlite
DEMO_SERVE ?= 1
PYTEST_ARGS ?=

.PHONY: venv demo test postgis browser gdal bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

postgis:
	bash scripts/ensure_postgis.sh

browser:
	bash scripts/ensure_browser.sh

gdal:
	bash scripts/ensure_gdal.sh

test: venv postgis browser gdal
	WAYFINDER_REQUIRE_POSTGIS=1 WAYFINDER_REQUIRE_BROWSER=1 $(VENV)/bin/pytest -n 2 -q $(PYTEST_ARGS)

demo: venv
	DEMO_SERVE=$(DEMO_SERVE) bash scripts/demo.sh $(DEMO)

bench: venv postgis
	bash bench/run_all

clean:
	rm -rf $(DEMO) .pytest_cache
