# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= .ldv-data

.PHONY: install demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Every component, editable, from one command (the components depend on each other by name).
install: $(BIN)/python
	$(BIN)/pip install --quiet -e "./logboek[store]" -e ./sdk -e ./collector -e ./inzicht_api -e ".[dev]"

demo: install
	$(BIN)/ldv demo --data-dir $(DATA_DIR)

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) $(DATA_DIR)
