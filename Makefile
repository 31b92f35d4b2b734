# Targets the README names. Each installs what it needs into .venv by itself.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: demo test test-fast lint services bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## run a sample of every input kind on the embedded default (no services, no keys)
	$(BIN)/ytcollect demo

test: $(STAMP)  ## the whole suite against the real PostgreSQL, Redis and RabbitMQ on 127.0.0.1
	bash scripts/ensure-services
	$(BIN)/python -m pytest

test-fast: $(STAMP)  ## pure tests only, no services
	$(BIN)/python -m pytest -m "not services"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .ytcollect
