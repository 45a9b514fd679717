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
	build deploy layer-requirements redrive doctor clean

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

lint: $(VENV)/.installed  ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed  ## mypy
	$(VENV)/bin/mypy layers/core/wa_conversions functions devstack bench

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

bench: $(VENV)/.installed  ## benchmark the webhook hot path and cold imports (not a test)
	$(PY) -m bench

# sam build needs the runtime's interpreter on PATH; pyenv keeps it out of PATH by default.
build: $(SAM_VENV)/.installed layer-requirements  ## sam build (no container needed)
	PATH="$$(dirname $(PYTHON_FOR_VENV)):$$PATH" $(SAM) build --template template.yaml

deploy: build  ## sam deploy --guided
	$(SAM) deploy --guided

redrive: $(VENV)/.installed  ## move a DLQ back to its queue: make redrive QUEUE=WaxQueue [ENDPOINT=<aws= URL of make dev>]
	@test -n "$(QUEUE)" || { echo "usage: make redrive QUEUE=<queue logical id> [ENDPOINT=http://127.0.0.1:<port>]"; exit 1; }
	$(PY) -m devstack redrive $(QUEUE) $(if $(ENDPOINT),--endpoint $(ENDPOINT))

doctor: $(VENV)/.installed  ## check the Meta set-up (token, dataset, Graph version): make doctor [ARGS="--create | --stack NAME"]
	$(PY) -m devstack.doctor $(ARGS)

layer-requirements: $(VENV)/.installed  ## regenerate layers/core/requirements.txt from pyproject.toml
	$(PY) -m devstack layer-requirements > layers/core/requirements.txt

# The report test renders the page in headless Chromium (Debian's package).
chromium:  ## install headless Chromium for the report test when it is missing (apt-get, as root)
	@test -x /usr/bin/chromium || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

REPORT_API_URL ?= http://127.0.0.1:3000
report: $(VENV)/.installed  ## write report/index.html from GET /metrics of a running stack (make dev); METRICS=file.json to use a saved answer
	$(PY) -m wa_conversions.analytics.report $(if $(METRICS),--metrics $(METRICS),--api-url $(REPORT_API_URL) --api-key $$(grep ^API_KEY= local.env | cut -d= -f2)) $(if $(FROM),--from $(FROM)) $(if $(TO),--to $(TO)) --out report/index.html

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache report
