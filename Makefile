# coresnap: the two commands are `make run` (the main job on embedded defaults) and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench system postgres clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

system:
	./tools/setup-system.sh

venv: $(STAMP)

# The store's tests run against a real PostgreSQL on loopback (started here when down).
postgres: system
	./tools/postgres.sh

run: system $(STAMP)
	$(BIN)/python -m demo

lint: $(STAMP)
	$(BIN)/ruff check coresnap tests bench demo
	$(BIN)/ruff format --check coresnap tests bench demo

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: system postgres $(STAMP)
	$(BIN)/pytest -n 2 -q --durations=25

test: system postgres $(STAMP) lint typecheck pytest

bench: system $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
