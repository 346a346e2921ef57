# The few commands a developer needs. Each target is a script in scripts/ that
# works the same without make; CI (.ci/run) runs the same scripts.

.DEFAULT_GOAL := help
.PHONY: help install run test test-backends check db-check ci screenshot bench

PORT ?= 8000

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## create .venv and install the project, test tools and Playwright
	scripts/install

run: ## serve the whole system with the demo data set (PORT=8000)
	.venv/bin/witnessbox serve --demo --port $(PORT)

test: ## the whole suite on SQLite + huey-SQLite (ARGS="-x tests/unit" to narrow)
	scripts/test $(ARGS)

test-backends: ## the whole suite on PostgreSQL + Redis, when both answer
	scripts/test-backends $(ARGS)

check: ## static checks: ruff, mypy, import-linter
	scripts/check

db-check: ## fail if the models have drifted from the migrations
	scripts/db-check

ci: ## everything CI runs (installs Chromium via apt when missing)
	bash .ci/run

screenshot: ## regenerate docs/screenshot.png from a fresh demo
	.venv/bin/python scripts/screenshot.py

bench: ## run the benchmarks in bench/ (BENCH=ingest ARGS="--size-gb 1" for one)
	scripts/bench $(BENCH) $(ARGS)
