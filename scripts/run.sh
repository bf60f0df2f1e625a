#!/usr/bin/env bash
# Starts the app in production mode on one port (PORT, default 8000): page, API and websocket.
# It serves the page scripts/build.sh built, as it is; without a build of this source and
# these settings it builds one first (where bun is installed; an image built with
# deploy/Dockerfile already holds its build). Replicas must serve one build: see README.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
# An image's runtime has the build but no bun; Reflex refuses a bun path that is not there.
[ -x "$REFLEX_BUN_PATH" ] || unset REFLEX_BUN_PATH

export PORT="${PORT:-8000}"
HOST="${HOST:-0.0.0.0}"
export APP_ENV="${APP_ENV:-production}"

# The port first, before a secret is made or the database migrated: a port another program
# (or this app, already running) holds is said plainly, with the way out. A few tries, so a
# restart right after a stop does not trip on the old process's last moment.
if ! python - "$HOST" "$PORT" <<'PY'
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
for attempt in range(6):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            sys.exit(0)
        except OSError:
            time.sleep(0.5)
sys.exit(1)
PY
then
  echo "Port $PORT is taken (another program, or this app already running)." \
    "Start on another port, e.g.: PORT=$((PORT + 1)) make run" >&2
  exit 1
fi
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
# Its files must not outlive the processes that wrote them: the default one is emptied here.
if [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  export PROMETHEUS_MULTIPROC_DIR="$ROOT/.run/prometheus"
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
fi
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

say "applying database migrations"
python -m pyairtable_ui.manage migrate

if ! python scripts/frontend.py current; then
  if [ -z "${REFLEX_BUN_PATH:-}" ]; then
    echo "The page is not built for this source and these settings (PUBLIC_URL," \
      "REFLEX_API_URL, ANSWER_IMAGE_HOSTS), and bun is not here to build it. Build the" \
      "image again with the same build arguments (deploy/compose.yaml passes them)." >&2
    exit 1
  fi
  bash scripts/build.sh
fi

# WEB_WORKERS backend processes (default 2 with Redis, always 1 without): scripts/frontend.py.
say "starting the app (Ctrl+C stops it)"
# The address is printed once the page is really served, not before: a watcher asks /health
# until it answers, and gives up when the server (this process, after exec) is gone.
server_pid=$$
probe_host="$HOST"
case "$probe_host" in 0.0.0.0 | "::") probe_host=127.0.0.1 ;; esac
address="${PUBLIC_URL:-http://localhost:$PORT}"
(
  for _ in $(seq 1 600); do
    kill -0 "$server_pid" 2>/dev/null || exit 0
    if python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "http://$probe_host:$PORT/health" 2>/dev/null; then
      say "PyAirtable UI is ready: open $address"
      exit 0
    fi
    sleep 1
  done
) &
exec python scripts/frontend.py serve --host "$HOST" --port "$PORT" \
  --loglevel "${REFLEX_LOGLEVEL:-info}"
