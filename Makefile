# The README's commands. Each creates .venv when it is missing and is quick when already set up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: bench test docs lint setup clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	@$(BIN)/python -m pip install -q -e ".[dev,docs]"
	@touch $(STAMP)

setup: $(STAMP)

bench: $(STAMP)
	$(BIN)/tgnn bench --quick

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check tgnn theory benchmarks tests
	$(BIN)/mypy tgnn theory

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "docs: site/index.html (open it from disk: it needs no server and no network)"

clean:
	rm -rf $(VENV) build dist *.egg-info site
