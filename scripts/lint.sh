#!/usr/bin/env bash
# Lint, format check and type check, as CI runs them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
say "ruff check"
ruff check pyairtable_ui tests rxconfig.py alembic
say "ruff format --check"
ruff format --check pyairtable_ui tests rxconfig.py alembic
say "mypy"
mypy pyairtable_ui rxconfig.py
