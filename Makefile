# Two commands for a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= .ldv-data

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
MVN ?= mvn

.PHONY: install demo test lint bench bench-federation clean browser pdf-libs peers bench-peer fuzz soak

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

# The real peers the tests run against ldv serve (tests/peers): clickhouse-go (Grafana's driver) in
# tests/go/clickhouse, the Go example and the Spring Boot example. Go modules come from the module
# proxy (only those the packages need: vet and build fetch them), Java libraries from Maven Central;
# cold, about 3 minutes for both on the shared 2-core machine (docs/other-languages.md). And the
# OpenTelemetry Collector's own ClickHouse exporter writing into our store (tests/go/clickhouseexporter):
# the collector's module tree, about 10 more minutes cold, built here so the test finds it warm.
peers:
	cd tests/go/clickhouse && $(GO) vet ./... && $(GO) vet -modfile=go.newest.mod ./...
	cd examples/go && $(GO) vet ./... && $(GO) build ./...
	cd examples/java && $(MVN) -B -q package
	cd tests/go/clickhouseexporter && $(GO) build -o /dev/null .

test: install browser peers lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/ingest.py

# The ingest benchmark with an OpenTelemetry Collector (otlp receiver -> batch -> nop exporter, built
# from the collector's modules in bench/otelcol) as the peer, in the same run (docs/benchmarks.md).
bench-peer: install
	cd bench/otelcol && $(GO) build -o otelcol-bench .
	$(BIN)/python bench/ingest.py --peer-otelcol bench/otelcol/otelcol-bench

bench-federation: install
	$(BIN)/python bench/federation.py

# Coverage-guided fuzzing (atheris) of every parser of outside input, FUZZ_SECONDS per target.
# New inputs go to .fuzz/ (not committed); a crash stops here with its input in .fuzz/crash-*.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= otlp_protobuf otlp_json read_api clickhouse_endpoint register token
fuzz: install
	@mkdir -p .fuzz; for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t for $(FUZZ_SECONDS) s (log: .fuzz/$$t.log)"; \
	  $(BIN)/python fuzz/run.py $$t $(FUZZ_SECONDS) .fuzz > .fuzz/$$t.log 2>&1; rc=$$?; \
	  grep -E '^(Done|stat::number_of_executed_units|=== Uncaught)' .fuzz/$$t.log; grep -oE 'cov: [0-9]+ ft: [0-9]+' .fuzz/$$t.log | tail -1; \
	  if [ $$rc != 0 ]; then tail -40 .fuzz/$$t.log; echo "fuzz $$t failed ($$rc): input in .fuzz/crash-$$t-*"; exit 1; fi; \
	done

# The soak run (docs/reliability.md): SOAK_MINUTES at SOAK_RATE records/s, figures and plot into docs/.
SOAK_MINUTES ?= 30
SOAK_RATE ?= 2000
soak: install
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES) --rate $(SOAK_RATE)

clean:
	rm -rf $(VENV) $(DATA_DIR) .fuzz examples/java/target
