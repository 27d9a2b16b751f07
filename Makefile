# Two commands matter: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench lint screenshots clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/bookinfo-harness run --exercise

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks

screenshots: $(STAMP)
	BOOKINFO_HARNESS_PUBLISH_SCREENSHOTS=1 $(PY) -m pytest -q tests/ui

lint: $(STAMP)
	$(VENV)/bin/ruff check harness tests benchmarks locustfiles conftest.py
	$(VENV)/bin/ruff format --check harness tests benchmarks locustfiles conftest.py
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
