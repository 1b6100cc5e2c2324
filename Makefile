# Two commands a newcomer needs: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench bench-deps bench-quality lock serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv

# Reinstall only when the dependency list or the lock changes. --compile-bytecode: where PYTHONDONTWRITEBYTECODE
# is set, nothing caches .pyc files, and every process (each Ray worker too) would recompile pandas, LightGBM and
# MLflow from source on import: ~10 s per process on this machine.
$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/uv pip install --quiet --compile-bytecode -c requirements.lock -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/trainforge demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench: $(STAMP)
	$(BIN)/python bench/e2e_job.py

# The bench-only competitors of bench/forecast_quality.py (mlforecast, statsforecast), resolved against the lock's
# pins; kept out of requirements.lock so that `make test` and CI do not install them.
bench-deps: $(STAMP)
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/uv pip install --quiet --compile-bytecode -c requirements.lock -e '.[dev,bench]'

bench-quality: bench-deps
	$(BIN)/python bench/forecast_quality.py

serve: $(STAMP)
	$(BIN)/trainforge serve

# Regenerate the pinned versions after editing pyproject.toml.
lock: $(BIN)/python
	$(BIN)/uv pip compile --quiet --python-version 3.11 --extra dev pyproject.toml -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
