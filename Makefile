# lem: two commands on a fresh machine — `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lem-installed
DEMO_DB ?= runs/demo.db
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all demo test lint typecheck unit bench clean

all: test

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[hf,postgres,mlx,semantic,train,dev]'
	touch $(STAMP)

## demo: set up, then run `lem ab` on the bundled probes, kernel and demo model (SQLite store)
demo: $(STAMP)
	$(BIN)/lem ab --model demo --db $(DEMO_DB) --max-tokens 160 --batch-size 16 \
		--out-jsonl runs/demo-ab.jsonl
	@echo "outputs: store $(DEMO_DB); upstream A/B JSONL runs/demo-ab.jsonl;" \
		"inspect with: $(BIN)/lem runs list --db $(DEMO_DB)"

## test: set up (venv; PostgreSQL and Chromium from Debian if missing), then ruff, mypy, pytest
test: $(STAMP) system-deps lint typecheck unit

.PHONY: system-deps

system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -x /usr/bin/chromedriver || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "missing system packages:$$missing (apt-get install$$missing)" >&2; fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_hf_batching.py
	$(BIN)/python benchmarks/bench_lek_v2.py
	$(BIN)/python benchmarks/bench_store_overhead.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
