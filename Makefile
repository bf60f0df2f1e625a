# The commands a newcomer needs: `make run`, `make test`, and `make demo` to look first.
.PHONY: run demo build test setup lint format benchmark benchmark-peers

run: setup
	@bash scripts/run.sh

# The app with a demo account on a sample base and a scripted demo model (scripts/demo.sh).
demo: setup
	@bash scripts/demo.sh

# Build the page once; `make run` (scripts/run.sh) serves that build without building.
build: setup
	@bash scripts/build.sh

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

# Not part of `make test`: installs airtable-mcp-server into .tools/peers (npm registry).
benchmark-peers: setup
	@bash scripts/benchmark_peers.sh
