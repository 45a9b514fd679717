# wa-conversions: every command a developer needs. `make demo` and `make test` do all the set-up
# themselves from a fresh clone (virtual environments and installs included).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13 matches the Lambda runtime; pyenv's interpreters are preferred when PATH has none.
PYTHON_FOR_VENV ?= $(shell for v in 3.13 3.12; do \
	  for p in $$(command -v python$$v 2>/dev/null) \
	           $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v.*/bin/python$$v 2>/dev/null | sort -V -r); do \
	    "$$p" -c 'import venv' >/dev/null 2>&1 && { echo "$$p"; exit 0; }; \
	  done; \
	done)
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_VERSION := 1.170.0
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: help setup dev demo report chromium test lint typecheck validate unit integration e2e reliability bench \
	build precompile deploy lock layer-requirements openapi redrive doctor insights reconcile clean events-doc

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON_FOR_VENV)" || { echo "Python 3.13 or 3.12 is needed (pyenv install 3.13)"; exit 1; }
	$(PYTHON_FOR_VENV) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# SAM CLI pins boto3 and pydantic, so it lives in a venv of its own.
$(SAM_VENV)/.installed:
	@test -n "$(PYTHON_FOR_VENV)" || { echo "Python 3.13 or 3.12 is needed"; exit 1; }
	$(PYTHON_FOR_VENV) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_VERSION)
	@touch $@

setup: $(VENV)/.installed $(SAM_VENV)/.installed  ## create both virtual environments

dev: $(VENV)/.installed  ## serve the API on http://127.0.0.1:3000 against an embedded AWS (Ctrl-C stops)
	$(PY) -m devstack serve --port 3000

demo: $(VENV)/.installed  ## start the local stack, post the sample webhooks, print what was captured
	$(PY) -m devstack demo

lint: $(VENV)/.installed  ## ruff, and the package's layer contract (import-linter, pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(VENV)/.installed  ## mypy
	$(VENV)/bin/mypy layers/core/wa_conversions functions devstack bench tools

validate: $(SAM_VENV)/.installed  ## sam validate --lint
	$(SAM) validate --lint --template template.yaml

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit -q

integration: $(VENV)/.installed chromium
	$(PY) -m pytest tests/integration -q

e2e: $(VENV)/.installed
	$(PY) -m pytest tests/e2e -q

# The full run prints its figures as one JSON line, last (the README's "Reliability" shows them).
reliability: $(VENV)/.installed  ## the full reliability suite on the local stack: burst, faults, crashes, fuzz, PII (about 15 min)
	@figures=$$(mktemp); \
	RELIABILITY=full RELIABILITY_FIGURES=$$figures $(PY) -m pytest tests/reliability -q; status=$$?; \
	if [ -s $$figures ]; then cat $$figures; fi; rm -f $$figures; exit $$status

test: lint typecheck validate chromium  ## everything CI runs: lint, types, template, unit, integration, end-to-end and the short reliability suite
	$(PY) -m pytest -q

bench: $(VENV)/.installed build  ## benchmark the hot path, cold imports of the built artifact, AWS calls per unit of work (not a test)
	$(PY) -m bench --built .aws-sam/build --work --cost-doc docs/cost.md

# sam build needs the runtime's interpreter on PATH; pyenv keeps it out of PATH by default.
build: $(SAM_VENV)/.installed layer-requirements  ## sam build (no container needed), then precompile the artifact
	PATH="$$(dirname $(PYTHON_FOR_VENV)):$$PATH" $(SAM) build --template template.yaml
	$(MAKE) --no-print-directory precompile

# Lambda's /var/task and /opt are read-only, so a cold start compiles every module it imports unless
# the zip ships .pyc: compile what sam packages, with the runtime's python3.13, unchecked-hash so no
# source is stat'ed or compared (https://docs.python.org/3/library/compileall.html).
BUILD_DIR ?= .aws-sam/build
precompile:  ## write unchecked-hash .pyc for the runtime's Python into the built artifact (make build does)
	PATH="$$(dirname $(PYTHON_FOR_VENV)):$$PATH" python3.13 -m compileall -q -j 0 --invalidation-mode unchecked-hash $(BUILD_DIR)

deploy: build  ## sam deploy --guided
	$(SAM) deploy --guided

redrive: $(VENV)/.installed  ## move a DLQ back to its queue: make redrive QUEUE=WaxQueue [ENDPOINT=<aws= URL of make dev>]
	@test -n "$(QUEUE)" || { echo "usage: make redrive QUEUE=<queue logical id> [ENDPOINT=http://127.0.0.1:<port>]"; exit 1; }
	$(PY) -m devstack redrive $(QUEUE) $(if $(ENDPOINT),--endpoint $(ENDPOINT))

doctor: $(VENV)/.installed  ## check the Meta set-up (token, dataset, Graph version): make doctor [ARGS="--create | --stack NAME"]
	$(PY) -m devstack.doctor $(ARGS)

events-doc: $(VENV)/.installed  ## write docs/events.md's generated parts from the bus's models (models/events.py)
	$(PY) -m devstack.events_doc

# The layer ships what uv.lock pins (hashes included): `make lock` after changing pyproject.toml's
# dependencies (it asks PyPI), `make layer-requirements` to export the lock (offline).
lock: $(VENV)/.installed  ## re-lock the dependencies (uv.lock) after changing pyproject.toml, then export the layer's
	UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv lock --python $(PY)
	$(MAKE) layer-requirements

layer-requirements: $(VENV)/.installed  ## export uv.lock to layers/core/requirements.txt (pinned, with hashes)
	$(PY) -m devstack layer-requirements > layers/core/requirements.txt.new
	mv layers/core/requirements.txt.new layers/core/requirements.txt

openapi: $(VENV)/.installed  ## write docs/openapi.json from the operator routes (tests/unit/test_openapi.py checks it is current)
	$(PY) -m devstack openapi

# The report test renders the page in headless Chromium (Debian's package).
chromium:  ## install headless Chromium for the report test when it is missing (apt-get, as root)
	@test -x /usr/bin/chromium || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

REPORT_API_URL ?= http://127.0.0.1:3000
# REPORT_TZ, not TZ: the shell's own TZ (often ":/etc/localtime") would be taken for the report's zone.
report: $(VENV)/.installed  ## write report/index.html and report/ads.csv from GET /metrics of a running stack (make dev) [FROM= TO= REPORT_TZ=America/Mexico_City TENANT=]; METRICS=file.json to use a saved answer
	$(PY) -m tools.report $(if $(METRICS),--metrics $(METRICS),--api-url $(REPORT_API_URL) --api-key $$(grep ^API_KEY= local.env | cut -d= -f2)) $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO)) $(if $(REPORT_TZ),--tz $(REPORT_TZ)) $(if $(TENANT),--tenant $(TENANT)) --out report/index.html

insights: $(VENV)/.installed  ## read Meta's ad insights into the running stack (make dev) now: make insights [SINCE=2026-06-01] [UNTIL=]
	$(PY) -m devstack insights --api-url $(REPORT_API_URL) $(if $(SINCE),--since $(SINCE)) $(if $(UNTIL),--until $(UNTIL))

reconcile: $(VENV)/.installed  ## read the shops' orders from the Admin API into the running stack (make dev) now: make reconcile [SHOP=x.myshopify.com] [SINCE=2026-12-01]
	$(PY) -m devstack reconcile --api-url $(REPORT_API_URL) $(if $(SHOP),--shop $(SHOP)) $(if $(SINCE),--since $(SINCE))

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache report
