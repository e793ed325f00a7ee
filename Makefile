# Everything starts from a plain Python 3.10+; the first target that needs it builds .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# fakesnow (a Snowflake stand-in, server mode) in a venv of its own, for tests/test_snowflake.py.
FAKESNOW_VENV := .venv-fakesnow
FAKESNOW      := $(FAKESNOW_VENV)/bin/fakesnow

# dlt (the peer in `make bench`) in a venv of its own, duckdb pinned as target-duckdb's.
DLT_VENV := .venv-dlt
DLT      := $(DLT_VENV)/bin/dlt

# Dagster (orchestrate/, sharded runs) in a venv of its own, for tests/test_orchestrate.py and `make bench`.
DAGSTER_VENV := .venv-dagster
DAGSTER      := $(DAGSTER_VENV)/bin/dagster

MELTANO_VENV  := .venv-meltano
MELTANO       := $(MELTANO_VENV)/bin/meltano
MELTANO_STAMP := .meltano/.installed
# What `make demo` runs, and nothing more (no Snowflake, no PostgreSQL loaders).
DEMO_PLUGINS := tap-liine target-duckdb dbt-duckdb
DEMO_STAMP   := .meltano/.demo-installed
export MELTANO_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: install test lint unit fuzz sandbox demo bench dist clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install -q -e '.[parquet]' --group dev
	touch $@

# Meltano in a venv of its own (its pins should not constrain the tap's), then the plugins.
$(MELTANO): | $(STAMP)
	$(BIN)/uv venv -q $(MELTANO_VENV) --python $(BIN)/python
	VIRTUAL_ENV=$(MELTANO_VENV) $(BIN)/uv pip install -q meltano==4.4.1

$(FAKESNOW): | $(STAMP)
	$(BIN)/uv venv -q $(FAKESNOW_VENV) --python $(BIN)/python
	VIRTUAL_ENV=$(FAKESNOW_VENV) $(BIN)/uv pip install -q 'fakesnow[server]==0.12.1' 'snowflake-connector-python<5'

$(DLT): | $(STAMP)
	$(BIN)/uv venv -q $(DLT_VENV) --python $(BIN)/python
	VIRTUAL_ENV=$(DLT_VENV) $(BIN)/uv pip install -q 'dlt[duckdb,postgres]==1.31.0' duckdb==1.2.2

$(DAGSTER): orchestrate/requirements.txt | $(STAMP)
	$(BIN)/uv venv -q --allow-existing $(DAGSTER_VENV) --python $(BIN)/python
	VIRTUAL_ENV=$(DAGSTER_VENV) $(BIN)/uv pip sync -q orchestrate/requirements.txt
	touch $@

# Every plugin of meltano.yml: the tests and benchmarks load into each of them. Again when
# pyproject.toml changes: the tap is installed into Meltano's venv of it with its dependencies.
$(MELTANO_STAMP): $(MELTANO) meltano.yml pyproject.toml
	$(MELTANO) install
	touch $@ $(DEMO_STAMP)

$(DEMO_STAMP): $(MELTANO) meltano.yml pyproject.toml
	$(MELTANO) install $(DEMO_PLUGINS)
	touch $@

install: $(STAMP) $(MELTANO_STAMP) $(FAKESNOW) $(DAGSTER)

lint: $(STAMP) $(DAGSTER)
	$(BIN)/ruff check tap_liine tests scripts benchmarks orchestrate
	$(BIN)/ruff format --check tap_liine tests scripts benchmarks orchestrate
	$(BIN)/mypy tap_liine
	$(BIN)/mypy --python-executable $(DAGSTER_VENV)/bin/python orchestrate/liine_orchestrate

unit: $(STAMP) $(MELTANO_STAMP) $(FAKESNOW) $(DAGSTER)
	$(BIN)/pytest -q -p no:cacheprovider --durations=25

# The whole suite: lint, then every test (end-to-end ones included).
test: lint unit

# The walks' properties under many more generated server behaviours than `make test` tries
# (400 examples per property, shrunk to the simplest failing one; FUZZ_EXAMPLES=N for more).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -p no:cacheprovider tests/test_walks.py

# Sandbox -> meltano run tap-liine target-duckdb -> what landed, checked against the sandbox.
demo: $(STAMP) $(DEMO_STAMP)
	$(BIN)/python scripts/demo.py

# The tap alone: throughput (a)-(d) at 200,000 interactions, peak RSS at 10k and 1M, sequential
# vs concurrent with 150 ms per response. Then end to end: `meltano run tap-liine <loader>`
# into a real PostgreSQL and DuckDB in every loading mode, and the dlt peer; last orchestrate/'s
# sharded runs with 1, 2 and 4 shards (about an hour and a half in all).
bench: $(STAMP) $(MELTANO_STAMP) $(DLT) $(DAGSTER)
	$(BIN)/python -m benchmarks.bench --scale 200000 --repeat 3 --meltano
	$(BIN)/python -m benchmarks.bench --memory 10000,1000000
	$(BIN)/python -m benchmarks.bench --latency 150 --scale 10000 --repeat 1
	$(BIN)/python -m benchmarks.pipelines --scale 200000 --repeat 3
	$(BIN)/python -m benchmarks.shards --scale 200000 --shards 1,2,4 --repeat 3

# The wheel and sdist in dist/, and dist/tap-liine.yml (the Hub definition, pip_url = that
# wheel) for `meltano add --plugin-type extractor tap-liine --from-ref .../dist/tap-liine.yml`.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/uv build -q -o dist
	$(BIN)/python scripts/dist_definition.py

# A sandbox of all three APIs on http://127.0.0.1:8765 (Ctrl-C stops it).
sandbox: $(STAMP)
	$(BIN)/tap-liine-sandbox --port 8765

clean:
	rm -rf $(VENV) $(MELTANO_VENV) $(FAKESNOW_VENV) $(DLT_VENV) $(DAGSTER_VENV) .meltano output .demo dist .pytest_cache .mypy_cache .ruff_cache
