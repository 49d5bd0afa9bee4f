# The two commands of README.md. Both bootstrap .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5006

.PHONY: run test lint format bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(BIN)/campustwin serve --port $(PORT)

# Debian's chromium for the browser tests; never a downloaded browser build.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "installing Debian chromium and chromium-driver for the browser tests"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

test: $(VENV)/.installed-test browser
	$(BIN)/ruff check twin layouts app tests benchmarks
	$(BIN)/python -m pytest -q --screenshot only-on-failure --output test-results

lint: $(VENV)/.installed-test
	$(BIN)/ruff check twin layouts app tests benchmarks
	$(BIN)/ruff format --check twin layouts app tests benchmarks

format: $(VENV)/.installed-test
	$(BIN)/ruff format twin layouts app tests benchmarks
	$(BIN)/ruff check --fix twin layouts app tests benchmarks

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_site.py
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) test-results .pytest_cache
