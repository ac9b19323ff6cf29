# HybridFlow — `make up` runs the whole system, `make test` tests it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.requirements-$(shell sha256sum requirements.txt | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help install venv n8n up down status test test-fast test-queue bench flows-export migrate chromium clean

help:
	@echo "make up            run everything (Postgres, services, n8n with the flows) and print the addresses"
	@echo "make down          stop what make up started"
	@echo "make test          install what is missing and run every test"
	@echo "make test-queue    the flow tests again with n8n in queue mode (Redis + a worker)"
	@echo "make bench         benchmarks: latency, throughput, collisions, faults (prints figures)"
	@echo "make flows-export  write flows changed in the n8n editor back to flows/ (normalised)"
	@echo "make migrate       apply db/migrations to DATABASE_URL"

install: venv n8n

venv: $(STAMP)
$(STAMP): requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.requirements-* && touch $@

# Node 24 and n8n from the npm registry into ~/.cache/hybridflow (once per version)
n8n:
	@bash scripts/install-n8n.sh >/dev/null

# Debian's Chromium and its driver for the browser test (only when missing)
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || bash scripts/install-chromium.sh

up: venv n8n
	$(PY) -m ops.stack up

down:
	@test -x $(PY) && $(PY) -m ops.stack down || echo "nothing to stop (no virtualenv)"

status: venv
	@$(PY) -m ops.stack status

migrate: venv
	$(PY) -m python_services.common.migrate

# everything, then the flow scenarios again with n8n in queue mode (Redis + a worker)
test: venv n8n chromium
	@export TEST_DATABASE_URL="$$($(PY) -m ops.stack postgres-url)" && \
	  $(PY) -m pytest $(PYTEST_ARGS) && \
	  echo "--- the flow scenarios again, n8n in queue mode ---" && \
	  HF_TEST_QUEUE_MODE=1 $(PY) -m pytest tests/flow -m "not browser" $(PYTEST_ARGS)

# without the real n8n and the browser: unit and service tests only
test-fast: venv
	TEST_DATABASE_URL="$$($(PY) -m ops.stack postgres-url)" $(PY) -m pytest tests/unit tests/service $(PYTEST_ARGS)

test-queue: venv n8n
	TEST_DATABASE_URL="$$($(PY) -m ops.stack postgres-url)" HF_TEST_QUEUE_MODE=1 $(PY) -m pytest tests/flow -m "not browser" $(PYTEST_ARGS)

bench: venv n8n
	TEST_DATABASE_URL="$$($(PY) -m ops.stack postgres-url)" $(PY) -m bench.run

flows-export: venv n8n
	$(PY) -m ops.flows export

clean: down
	rm -rf .data
