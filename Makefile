# chainmatch: two commands on a fresh machine (`make run`, `make test`).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: venv install run migrate seed-demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv install: $(STAMP)

var:
	mkdir -p var

migrate: $(STAMP) var
	$(BIN)/alembic upgrade head

seed-demo: migrate
	$(BIN)/chainmatch seed-demo

run: migrate
	$(BIN)/chainmatch seed-taxonomy
	@if [ "$${CHAINMATCH_DEMO:-1}" != "0" ]; then $(BIN)/chainmatch seed-demo --if-empty; fi
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/query.py
	$(BIN)/python bench/rank.py
	$(BIN)/python bench/encode.py
	$(BIN)/python bench/schedule.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
