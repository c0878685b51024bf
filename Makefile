# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= .ldv-data

.PHONY: install demo test lint bench bench-federation clean browser pdf-libs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Every component, editable, from one command (the components depend on each other by name).
install: $(BIN)/python pdf-libs
	$(BIN)/pip install --quiet -e "./logboek[store]" -e ./sdk -e ./collector -e ./inzicht_api -e ./dashboards -e ".[dev]"

demo: install
	$(BIN)/ldv demo --data-dir $(DATA_DIR)

# The citizen page is tested in a real headless Chromium: Debian's, never a downloaded build.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the citizen page tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "the citizen page tests need Debian's chromium: sudo apt-get install chromium"; exit 1; \
	  fi; \
	fi

# The citizen's PDF overview (WeasyPrint) needs Pango, HarfBuzz and a font from Debian. Without
# them everything else works and the PDF download answers 503; as root they are installed.
PDF_LIBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
pdf-libs:
	@if ! ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || ! ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset.so.0'; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Pango and HarfBuzz from Debian for the citizen's PDF overview"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PDF_LIBS) >/dev/null; \
	  else \
	    echo "the citizen's PDF overview needs Pango: sudo apt-get install $(PDF_LIBS)"; \
	  fi; \
	fi

# Static checks: unused names, import order, syntax (ruff) and types (mypy) of every component.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy logboek/src/ldv_logboek collector/src/ldv_collector inzicht_api/src/ldv_inzicht sdk/src/ldv_sdk dashboards/src/ldv_dashboards cli/src/ldv_suite

test: install browser lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/ingest.py

bench-federation: install
	$(BIN)/python bench/federation.py

clean:
	rm -rf $(VENV) $(DATA_DIR)
