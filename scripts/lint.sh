#!/usr/bin/env bash
# Lint, format check, type check, dead code and import contracts, as CI runs them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
say "ruff check"
ruff check pyairtable_ui tests scripts rxconfig.py alembic
say "ruff format --check"
ruff format --check pyairtable_ui tests scripts rxconfig.py alembic
say "mypy"
mypy pyairtable_ui rxconfig.py
say "vulture (code nothing calls; allow-list: scripts/vulture_allowlist.py)"
vulture
say "lint-imports (contracts in pyproject.toml [tool.importlinter])"
lint-imports --no-cache
