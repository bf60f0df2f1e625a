# The two commands a newcomer needs: `make run` and `make test`.
.PHONY: run test setup lint format benchmark

run: setup
	@bash scripts/run.sh

test: setup
	@bash scripts/test.sh $(ARGS)

setup:
	@bash scripts/setup.sh

lint: setup
	@bash scripts/lint.sh

format: setup
	@.venv/bin/ruff format pyairtable_ui tests scripts benchmarks rxconfig.py alembic

benchmark: setup
	@bash scripts/benchmark.sh
