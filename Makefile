PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run demo test test-slow bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: $(STAMP)
	@# the demo's 2 MB offline image, when a Docker daemon answers (else the demo runs LOCAL)
	@if docker info >/dev/null 2>&1; then bash sandboxes/images/build-test-image.sh >/dev/null 2>&1 || true; fi
	$(BIN)/agentorch-tui --demo

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# the long attack and fault sweeps (CI's second stage)
test-slow: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -m slow $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check engine sandboxes memory tui tests benchmarks

clean:
	rm -rf $(VENV) .agentorch
