# Two commands: `make run` serves the example app, `make test` runs every check.
# Nothing needs installing by hand: uv is bootstrapped into .tools/ with pip when missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
PY311 := $(shell command -v python3.11 >/dev/null 2>&1 && python3.11 -c 'import sys' 2>/dev/null && echo python3.11 || echo python3)
PY313 := $(shell scripts/find-python 3.13)

.PHONY: help setup run test lint types imports pytest pytest-313 bench fmt clean

help:
	@echo "make run    - set up and serve examples/app.py on http://127.0.0.1:8000"
	@echo "make test   - set up and run every check (ruff, mypy --strict, import layers, pytest)"
	@echo "make bench  - run the benchmarks against the peer frameworks"
	@echo "make fmt    - format and autofix"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

setup: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv)
	$(UV) sync --frozen --all-extras --python $(PY311)

run: setup
	$(UV) run --frozen --no-sync flasgo run examples/app.py --host 127.0.0.1 --port 8000

test: setup lint types imports pytest pytest-313

lint: setup
	$(UV) run --frozen --no-sync ruff check .
	$(UV) run --frozen --no-sync ruff format --check .

types: setup
	$(UV) run --frozen --no-sync mypy

imports: setup
	$(UV) run --frozen --no-sync lint-imports --no-cache

pytest: setup
	$(UV) run --frozen --no-sync pytest -q -p no:cacheprovider --cov --cov-report=term:skip-covered

pytest-313: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv)
	@if [ -n "$(PY313)" ]; then \
		echo "== pytest on $(PY313)"; \
		UV_PROJECT_ENVIRONMENT=.venv-3.13 $(UV) sync --frozen --all-extras --python $(PY313) && \
		UV_PROJECT_ENVIRONMENT=.venv-3.13 $(UV) run --frozen --no-sync pytest -q -p no:cacheprovider -x; \
	else echo "== Python 3.13 not found on this machine; skipping the 3.13 run"; fi

bench: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv)
	$(UV) sync --frozen --all-extras --group bench --python $(PY311)
	$(UV) run --frozen --no-sync python -m benchmarks.run $(BENCH_ARGS)

fmt: setup
	$(UV) run --frozen --no-sync ruff format .
	$(UV) run --frozen --no-sync ruff check --fix .

clean:
	rm -rf .venv .venv-3.13 .tools .mypy_cache .ruff_cache .pytest_cache .hypothesis
