# HybridFlow — `make up` runs the whole system, `make test` tests it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.requirements-$(shell sha256sum requirements.txt | cut -c1-12)
PYTEST_ARGS ?=
# the clock of the progress lines ("[hybridflow] 12.3s  ..."): the moment make
# started, shared by scripts/say.sh, scripts/install-n8n.sh and `python -m ops`
STARTED   := $(shell date +%s.%N)
SAY       := bash scripts/say.sh $(STARTED)

.PHONY: help install venv n8n web up down status reset-n8n test test-fast test-queue bench flows-export migrate chromium clean

help:
	@echo "make up            run everything (Postgres, services, n8n with the flows, the door) and print the addresses"
	@echo "make down          stop what make up started"
	@echo "make reset-n8n     empty n8n's own database and folder (after a new N8N_ENCRYPTION_KEY; make up refills it)"
	@echo "make test          install what is missing and run every test"
	@echo "make test-queue    the flow tests again with n8n in queue mode (Redis + a worker)"
	@echo "make bench         benchmarks: latency, throughput, collisions, faults (prints figures)"
	@echo "make flows-export  write flows changed in the n8n editor back to flows/ (normalised)"
	@echo "make migrate       apply db/migrations to DATABASE_URL"

install: venv n8n web

venv: $(STAMP)
$(STAMP): requirements.txt
	@$(SAY) "installing the Python packages of requirements.txt into $(VENV) (first time, or after it changed)..."
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.requirements-* && touch $@

# Node 24 and n8n from the npm registry into ~/.cache/hybridflow (once per
# version); its progress goes to stderr, its last stdout line (the folder) is not needed here
n8n:
	@HYBRIDFLOW_STARTED=$(STARTED) bash scripts/install-n8n.sh >/dev/null

# the files the services serve themselves (Swagger UI for /api/docs), from
# web/package.json into web/node_modules (once per lockfile)
web:
	@HYBRIDFLOW_STARTED=$(STARTED) bash scripts/install-web-assets.sh

# Debian's Chromium and its driver for the browser test (only when missing)
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || bash scripts/install-chromium.sh

# n8n is installed by ops itself, as one of the steps it reports
up: venv web
	@$(PY) -m ops up --since $(STARTED)

down:
	@test -x $(PY) && $(PY) -m ops down || echo "nothing to stop (no virtualenv)"

status: venv
	@$(PY) -m ops status

# n8n's own database and folder from scratch; the flows and credentials come
# back from git and .env at the next `make up`, HybridFlow's data is not touched
reset-n8n: venv
	@$(PY) -m ops reset-n8n

migrate: venv
	$(PY) -m python_services.common.migrate

# everything, then the flow scenarios again with n8n in queue mode (Redis + a worker)
test: venv n8n chromium web
	@export TEST_DATABASE_URL="$$($(PY) -m ops postgres-url)" && \
	  $(PY) -m pytest $(PYTEST_ARGS) && \
	  echo "--- the flow scenarios again, n8n in queue mode ---" && \
	  HF_TEST_QUEUE_MODE=1 $(PY) -m pytest tests/flow -m "not browser" $(PYTEST_ARGS)

# without the real n8n and the browser: unit and service tests only
test-fast: venv web
	TEST_DATABASE_URL="$$($(PY) -m ops postgres-url)" $(PY) -m pytest tests/unit tests/service $(PYTEST_ARGS)

test-queue: venv n8n
	TEST_DATABASE_URL="$$($(PY) -m ops postgres-url)" HF_TEST_QUEUE_MODE=1 $(PY) -m pytest tests/flow -m "not browser" $(PYTEST_ARGS)

bench: venv n8n
	TEST_DATABASE_URL="$$($(PY) -m ops postgres-url)" $(PY) -m bench.run
	TEST_DATABASE_URL="$$($(PY) -m ops postgres-url)" $(PY) -m bench.console_pages

flows-export: venv n8n
	$(PY) -m ops.flows export

clean: down
	rm -rf .data
