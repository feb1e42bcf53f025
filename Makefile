# Ticket Triage Suite: `make run` starts everything, `make test` runs every test but the heavy
# fault tests (a RabbitMQ cluster, a PostgreSQL failover, scale-out), which `make test-heavy`
# runs; CI (.ci/run) runs both.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Every folder with a pyproject.toml; which processes run is the suite manifest's business
# (support_shared.manifest), read by `python -m support_shared.suite`.
PACKAGES := $(patsubst %/pyproject.toml,%,$(wildcard */pyproject.toml))
STAMP := $(VENV)/.installed

export TEST_DATABASE_URL ?= postgresql+psycopg2://postgres@127.0.0.1:5432/ticket_triage_test

.PHONY: tools run up down test test-faults test-heavy test-unit test-integration test-e2e bench bench-import setup infra migrate clean

$(STAMP): constraints.txt requirements-dev.txt $(wildcard */pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -r requirements-dev.txt $(foreach p,$(PACKAGES),-e ./$(p))
	touch $@

setup: $(STAMP)

tools:
	INFRA_TOOLS=1 bash scripts/infra.sh

infra:
	bash scripts/infra.sh

migrate: setup infra
	$(BIN)/python -m support_shared.suite migrate

run: migrate
	$(BIN)/python -m support_shared.suite run

up: migrate
	$(BIN)/python -m support_shared.suite up

down:
	$(BIN)/python -m support_shared.suite down

test: setup infra tools
	$(BIN)/python -m pytest -m "not heavy"

test-unit: setup
	$(BIN)/python -m pytest -m "not integration and not e2e and not faults"

test-faults: setup infra
	$(BIN)/python -m pytest tests/faults

test-heavy: setup
	$(BIN)/python -m pytest tests/faults -m heavy

test-e2e: setup infra
	$(BIN)/python -m pytest tests/e2e

bench: setup infra tools
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-import: setup infra tools
	$(BIN)/python bench/import_dataset.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
