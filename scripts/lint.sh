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
# The alert rules of deploy/ and their unit tests (Debian package `prometheus`; .ci/run
# installs it). Elsewhere they are skipped, and the skip is printed.
if command -v promtool >/dev/null 2>&1; then
  say "promtool check rules / test rules (deploy/prometheus)"
  promtool check rules deploy/prometheus/alerts.yml
  promtool test rules deploy/prometheus/alerts_test.yml
else
  say "promtool not installed: deploy/prometheus/alerts.yml NOT checked (apt-get install prometheus)"
fi
say "metric names in deploy/ exist in pyairtable_ui/core/observability.py"
missing=0
for name in $(grep -rhoE 'pyairtable_ui_[a-z_]+' deploy/prometheus/alerts.yml deploy/grafana/*.json | sed -E 's/_(bucket|count|sum)$//' | sort -u); do
  if ! grep -q "\"$name\"" pyairtable_ui/core/observability.py; then
    echo "deploy/ uses $name, which the app does not export" >&2
    missing=1
  fi
done
[ "$missing" = 0 ]
