#!/usr/bin/env bash
# Starts the app in production mode on one port (PORT, default 8000): page, API and websocket.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

export PORT="${PORT:-8000}"
export APP_ENV="${APP_ENV:-production}"
mkdir -p .run

# A real secret is required in production. Without one set, make a random one
# once and keep it in .run/ (git-ignored) so sessions and stored tokens survive restarts.
if [ -z "${SECRET_KEY:-}" ] && ! grep -qs '^SECRET_KEY=' .env; then
  if [ ! -s .run/secret_key ]; then
    say "generating a SECRET_KEY in .run/secret_key (set SECRET_KEY to use your own)"
    (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(48))' > .run/secret_key)
  fi
  SECRET_KEY="$(cat .run/secret_key)"
  export SECRET_KEY
fi

# Several backend workers (with Redis) each count their own metrics; this folder sums them.
export PROMETHEUS_MULTIPROC_DIR="$ROOT/.run/prometheus"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

say "applying database migrations"
python -m pyairtable_ui.manage migrate

say "building and starting the app on http://localhost:$PORT (Ctrl+C stops it)"
exec reflex run --env prod --single-port --backend-port "$PORT" --loglevel "${REFLEX_LOGLEVEL:-info}"
