# Two commands: `make run` serves the example app, `make test` runs every check.
# Nothing needs installing by hand: uv is bootstrapped into .tools/ with pip when missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
PY311 := $(shell command -v python3.11 >/dev/null 2>&1 && python3.11 -c 'import sys' 2>/dev/null && echo python3.11 || echo python3)
# Every CPython newer than 3.11 found on this machine also runs the suite.
NEWER_PYTHONS := 3.12 3.13 3.14 3.15

.PHONY: help setup run test lint types imports pytest pytest-newer bench fmt clean

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

test: setup lint types imports pytest pytest-newer

lint: setup
	$(UV) run --frozen --no-sync ruff check .
	$(UV) run --frozen --no-sync ruff format --check .

types: setup
	$(UV) run --frozen --no-sync mypy

imports: setup
	$(UV) run --frozen --no-sync lint-imports --no-cache

pytest: setup
	$(UV) run --frozen --no-sync pytest -q -p no:cacheprovider --cov --cov-report=term:skip-covered

pytest-newer: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv)
	@for version in $(NEWER_PYTHONS); do \
		python=$$(scripts/find-python $$version); \
		if [ -z "$$python" ]; then echo "== Python $$version not found on this machine; skipped"; continue; fi; \
		echo "== pytest on $$python"; \
		UV_PROJECT_ENVIRONMENT=.venv-$$version $(UV) sync --frozen --all-extras --python $$python && \
		UV_PROJECT_ENVIRONMENT=.venv-$$version $(UV) run --frozen --no-sync pytest -q -p no:cacheprovider -x || exit 1; \
	done

bench: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv)
	$(UV) sync --frozen --all-extras --group bench --python $(PY311)
	$(UV) run --frozen --no-sync python -m benchmarks.run $(BENCH_ARGS)

fmt: setup
	$(UV) run --frozen --no-sync ruff format .
	$(UV) run --frozen --no-sync ruff check --fix .

clean:
	rm -rf .venv .venv-3.* .tools .mypy_cache .ruff_cache .pytest_cache .hypothesis
