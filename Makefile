# BluePrint: the two contract commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(CURDIR)/data
SAMPLE_DIR := $(DATA_DIR)/sample
SAMPLE_DAYS ?= 3
SAMPLE_USERS ?= 2000
FIRST_DAY := 2025-03-01
LAST_DAY := 2025-03-03
RELEASE_MONTH := 2025-03
export BLUEPRINT_DATA_DIR := $(DATA_DIR)
DAGSTER_HOME_DIR := $(DATA_DIR)/dagster_home
export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GX_ANALYTICS_ENABLED := False

.PHONY: install demo test test-fast lint ui bench e2e clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: asking for it by exact version takes the local wheel, not a CUDA build.
	$(BIN)/pip install --quiet --no-compile torch==2.13.0
	$(BIN)/pip install --quiet --no-compile -e ".[dev]"
	# pip byte-compiles one file at a time (about 90 of the install's 140 s here); compileall does the same
	# work on every core. The one file it skips is torch's Python 3.12 test helper, which 3.11 cannot parse.
	$(BIN)/python -m compileall -q -j 0 -x 'torch/testing/_internal/py312_intrinsics' $(VENV)/lib > /dev/null
	touch $@

install: $(BIN)/.installed

demo: install
	# The static encoder is distilled once (into $(DATA_DIR)/models) beside the sample and the daily steps;
	# post_embeddings waits on the model's lock until it is ready.
	$(BIN)/blueprint prepare-encoder --data-dir $(DATA_DIR) & build=$$!; \
	$(BIN)/blueprint sample --out $(SAMPLE_DIR) --days $(SAMPLE_DAYS) --users $(SAMPLE_USERS) --seed 7 --start $(FIRST_DAY) \
		&& $(BIN)/blueprint run --source-dir $(SAMPLE_DIR) --from $(FIRST_DAY) --to $(LAST_DAY) --data-dir $(DATA_DIR); \
	status=$$?; wait $$build && exit $$status
	$(BIN)/blueprint release --months $(RELEASE_MONTH) --data-dir $(DATA_DIR)
# The demo's leaderboard uses the static encoder of post_embeddings (its lake vectors are reused, nothing is
# encoded twice) and skips the cluster x model matrices; run it without these two options for the full board.
	$(BIN)/blueprint baseline leaderboard --release $(DATA_DIR)/releases/$(RELEASE_MONTH) --split validation \
		--encoder static --no-diagonality --out $(DATA_DIR)/leaderboard.md
	$(BIN)/blueprint summary --from $(FIRST_DAY) --to $(LAST_DAY) --data-dir $(DATA_DIR)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install lint
	$(BIN)/lint-imports
	$(BIN)/dagster definitions validate -w workspace.yaml
	$(BIN)/python -m pytest -q --ignore=tests/e2e

# The quick loop while editing: no full Dagster pipeline run, no object-store server, no demo-size sample
# (`make test` runs them all).
test-fast: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not pipeline and not object_store and not slow" --ignore=tests/e2e

# Real-browser UI test and Postgres parallel-runs test; installs Debian's chromium and postgresql.
e2e: install
	bash scripts/e2e_setup.sh
	$(BIN)/python -m pytest -q tests/e2e

ui: install
	mkdir -p $(DAGSTER_HOME_DIR)
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(DATA_DIR) .pytest_cache .ruff_cache
