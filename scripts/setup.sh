#!/usr/bin/env bash
# Installs whatever is missing: virtualenv, Python packages, bun. Idempotent and quick on rerun.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtual environment in .venv"
  "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.requirements.sha256"
want="$(cat requirements.txt requirements-dev.txt constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing Python packages (requirements.txt, requirements-dev.txt): the first run takes a few minutes"
  # At a terminal pip shows what it fetches and its progress; in a log (CI) it stays quiet.
  quiet=(--quiet)
  [ -t 1 ] && quiet=(--progress-bar on)
  "$VENV/bin/python" -m pip install "${quiet[@]}" --upgrade pip
  "$VENV/bin/python" -m pip install "${quiet[@]}" -r requirements.txt -r requirements-dev.txt -c constraints.txt
  echo "$want" > "$stamp"
else
  say "Python packages are up to date"
fi

if [ "$("$TOOLS/bin/bun" --version 2>/dev/null)" != "$BUN_VERSION" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is needed to install bun (Reflex builds the page with it). Install Node.js and npm." >&2
    exit 1
  fi
  say "installing bun $BUN_VERSION into .tools (from the npm registry)"
  npm install --global --prefix "$TOOLS" --no-fund --no-audit --loglevel=error "bun@$BUN_VERSION"
else
  say "bun $BUN_VERSION is installed"
fi
