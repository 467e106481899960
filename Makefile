# Lianka — every target sets up what it needs on a fresh machine.
#   make run    set up, create/upgrade the database, run Lianka
#   make test   set up (with dev tools), lint, type-check, run the tests
#   make check  the fast loop: lint, type-check, every test not marked slow (under 2 minutes)
#   make soak   lianka run killed and Telegram failing, for a few minutes (CI runs it after test)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LIANKA := $(BIN)/lianka
# pytest-xdist workers: one per core and one more — a third of the suite waits on the processes,
# browsers and servers it starts (idle 2-core machine: make pytest 5 min 02 s with 2, 4 min 20 s
# with 3; CPU 71 % busy with 2)
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

# Debian packages Lianka needs at run time (CJK font for cards and reports)
# and for its tests (poppler-utils rasterises PDFs; chromium shows the sandbox page).
SYSTEM_PACKAGES_RUN  := fonts-wqy-microhei
SYSTEM_PACKAGES_TEST := $(SYSTEM_PACKAGES_RUN) poppler-utils chromium

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test check pytest-fast soak fuzz bench bench-scale capacity lint typecheck pytest setup setup-dev system-deps system-deps-test db clean help

help:
	@echo "make run    — set up and run Lianka"
	@echo "make test   — set up and run ruff, mypy and the tests"
	@echo "make check  — ruff, mypy and the tests not marked slow (no processes, browsers, soak)"
	@echo "make soak   — kill lianka run mid-conversation, fail Telegram calls (var/soak-results.json)"
	@echo "make fuzz   — fuzz every handler at length (make test runs a short profile)"
	@echo "make bench  — run the benchmarks (results in bench/results.json)"
	@echo "make bench-scale — the report and console over 1,000,000 cases (bench/results.json)"
	@echo "make capacity — the capacity plan for a province from bench/results.json"

run: setup db
	$(LIANKA) run --sandbox-if-no-token

test: setup-dev system-deps-test lint typecheck pytest

# The code's bytecode, written once before the tests: with PYTHONDONTWRITEBYTECODE set (as in this
# machine's environment) every lianka process a test starts would compile bot/, models/, … again (~0.5 s CPU each).
BYTECODE = $(BIN)/python -m compileall -q bot models handlers web notifications reports cards sandbox demo migrations

# The thirty slowest tests are listed after the run: what to look at when the run nears its
# ten minutes.
pytest: setup-dev
	$(BYTECODE)
	$(BIN)/pytest -n $(TEST_WORKERS) --durations=30 $(PYTEST_ARGS)

# The fast loop. -m replaces pyproject's "-m 'not soak'", so soak is named again.
check: setup-dev lint typecheck pytest-fast

pytest-fast: setup-dev
	$(BIN)/pytest -n $(TEST_WORKERS) -m "not slow and not soak" $(PYTEST_ARGS)

# The soak (tests/soak, marker soak, left out of make test): prints its figures and writes them
# to var/soak-results.json.
soak: setup-dev system-deps-test
	$(BYTECODE)
	$(BIN)/pytest -m soak -s -q tests/soak $(PYTEST_ARGS)

# The handler fuzzing at length (about 12,000 updates; make test runs its short ci profile).
fuzz: setup-dev
	HYPOTHESIS_PROFILE=soak $(BIN)/pytest -q tests/test_fuzz_handlers.py $(PYTEST_ARGS)

# Benchmarks print a table and merge their figures into bench/results.json (see README,
# "Benchmarks"); PostgreSQL on 127.0.0.1 (or LIANKA_TEST_POSTGRES_URL) for the sweep and report.
#   make bench BENCH_ARGS="--only intake sweep"
bench: setup
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The scale run (not part of make bench): builds, or reuses (a kept PostgreSQL database), a
# 1,000,000-case database and measures the report and the console's search and lists over it
# (report_s_1m, console_search_ms_1m, …; about 20 minutes the first time, a few once cached).
bench-scale: setup
	$(BIN)/python bench/run.py --scale $(BENCH_ARGS)

# The capacity plan's arithmetic (README, "Capacity plan") from bench/results.json.
capacity: setup
	$(BIN)/python bench/capacity.py

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python scripts/house_rules.py

typecheck: setup-dev
	$(BIN)/mypy .

# --- set-up -----------------------------------------------------------------

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Lianka needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.build-installed: requirements/build.lock | $(BIN)/python
	$(BIN)/python -m pip install -q --require-hashes -r requirements/build.lock
	touch $@

$(VENV)/.base-installed: requirements/base.lock pyproject.toml $(VENV)/.build-installed
	$(BIN)/python -m pip install -q --require-hashes -r requirements/base.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.dev-installed: requirements/dev.lock $(VENV)/.base-installed
	$(BIN)/python -m pip install -q --require-hashes -r requirements/dev.lock
	touch $@

setup: $(VENV)/.base-installed system-deps

setup-dev: $(VENV)/.dev-installed

system-deps:
	@sh scripts/system-deps.sh $(SYSTEM_PACKAGES_RUN)

system-deps-test:
	@sh scripts/system-deps.sh $(SYSTEM_PACKAGES_TEST)

db: setup
	$(LIANKA) init

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
