# One command each: `make demo` and `make test`. Both install everything first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
PYTEST_ARGS ?=
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install demo test lint lint-python format ui bench clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	test -x $(BIN)/duckdb  # the DuckDB command line of the analysts (duckdb-cli)
	touch $(STAMP)

$(MANIFEST): $(STAMP) $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.csv' | grep -v '/target/')
	$(BIN)/python -m lavoro_debole.dbt_manifest --force

install: $(STAMP) $(MANIFEST)

demo: install
	$(BIN)/lavoro demo

test: install lint-python
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || [ -n "$$LAVORO_CHROMIUM" ] || \
		echo "Nota: Chromium manca (apt-get install -y chromium): i test del browser saranno saltati (in CI falliscono)."
	# Everything but the browser on both cores, then the browser tests in their order
	# (they share one UI); a selection without any of one kind is not a failure.
	$(BIN)/pytest -m "not browser" -n 2 $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/pytest -m browser $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint-python: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Everything lint-python checks, and the SQL (the SQL lint also runs inside `make test`).
lint: lint-python
	tmp=$$(mktemp -d) && cd dbt_project && LAVORO_DATA_DIR=$$tmp ../$(BIN)/sqlfluff lint . --disable-progress-bar

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ui: install
	$(BIN)/lavoro ui

# Every line of issue 14's table (minutes at 200,000 persons); BENCH_ARGS=--quick for a try.
bench: install
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
