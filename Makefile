# Everything starts from a plain Python 3.10+; the first target that needs it builds .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint unit sandbox demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check tap_liine tests
	$(BIN)/ruff format --check tap_liine tests
	$(BIN)/mypy tap_liine

unit: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

# The whole suite: lint, then every test (end-to-end ones included).
test: lint unit

# A sandbox of all three APIs on http://127.0.0.1:8765 (Ctrl-C stops it).
sandbox: $(STAMP)
	$(BIN)/tap-liine-sandbox --port 8765

clean:
	rm -rf $(VENV) .meltano output .demo .pytest_cache .mypy_cache .ruff_cache
