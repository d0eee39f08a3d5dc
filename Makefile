# dmm-nf: `make run` and `make test` install what they need (Debian packages, a virtualenv with
# the pinned Python packages) and skip every step that is already done.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: all run test lint bench soak fuzz yang-tree system clean

all: test

system:
	@scripts/install-system-packages.sh

$(VENV)/bin/python:
	@scripts/install-system-packages.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip==24.3.1

# Reinstalled only when the pins or the project metadata change.
$(STAMP): $(VENV)/bin/python requirements.lock pyproject.toml
	$(VENV)/bin/pip install -q -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: system $(STAMP)

# The namespace lab (root): LMA, two MAGs, two mobile nodes, a correspondent node; ends with
# the lab running and a "try this" text. `.venv/bin/dmm-nf lab down` removes it all.
run: install
	$(VENV)/bin/dmm-nf lab up

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m pytest tests/model -q

yang-tree: install
	$(PY) -m mgmt.yangtree --write

bench: install
	$(PY) -m tests.bench

# Coverage-guided fuzzing of every target (docs/fuzzing.md); crash inputs in fuzz-artifacts/.
FUZZ_SECONDS ?= 600
fuzz: install
	$(PY) -m tests.fuzz.campaign --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) .state
