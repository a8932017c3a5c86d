PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export MLFLOW_DISABLE_TELEMETRY=true
export RAY_USAGE_STATS_ENABLED=0
export DO_NOT_TRACK=1
# PyTorch (CPU) for script mode's pytorch image is optional: installed when its wheel is
# on disk, skipped otherwise (docs/script-mode.md).
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-*+cpu*-cp311-*.whl))

.PHONY: quickstart test lint typecheck install clean

$(VENV)/.installed-base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	$(if $(TORCH_WHEEL),$(PY) -m pip install -q "$(TORCH_WHEEL)")
	touch $@

$(VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(if $(TORCH_WHEEL),$(PY) -m pip install -q "$(TORCH_WHEEL)")
	touch $@ $(VENV)/.installed-base

install: $(VENV)/.installed-base

quickstart: $(VENV)/.installed-base
	$(VENV)/bin/sagebox quickstart --home ./quickstart-home

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: $(VENV)/.installed-test
	$(VENV)/bin/mypy

test: $(VENV)/.installed-test lint typecheck
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) quickstart-home
