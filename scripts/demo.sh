#!/usr/bin/env bash
# `make demo`: a guided look before configuring anything. The app as `make run` serves it,
# with its own database and sample folder under .run/demo/, a demo account already on its
# sample base, and the project's scripted model server (tests/fakes/llm, --tour) answering
# the chat's example questions with real tool calls. Real use needs a real model: make run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

export PORT="${PORT:-8000}"
if ! python -c 'import socket, sys; s = socket.socket(); s.bind(("0.0.0.0", int(sys.argv[1])))' \
  "$PORT" 2>/dev/null; then
  echo "Port $PORT is taken. Start on another port, e.g.: PORT=$((PORT + 1)) make demo" >&2
  exit 1
fi

DEMO_DIR="$ROOT/.run/demo"
mkdir -p "$DEMO_DIR"
if [ ! -s "$DEMO_DIR/secret_key" ]; then
  (umask 077 && python -c 'import secrets; print(secrets.token_urlsafe(48))' > "$DEMO_DIR/secret_key")
fi
SECRET_KEY="$(cat "$DEMO_DIR/secret_key")"
export SECRET_KEY
export APP_ENV=production
export DATABASE_URL="sqlite:///$DEMO_DIR/demo.db"
export AIRTABLE_SAMPLE=on AIRTABLE_SAMPLE_DIR="$DEMO_DIR/sample"
export SMTP_HOST=""
# The demo model (pyairtable_ui/llm/setup.py DEMO_MODEL): the picker says what it is.
llm_port="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export LLM_MODEL="openai/demo-scripted" LLM_ALLOWED_MODELS="openai/demo-scripted"
export LLM_API_BASE="http://127.0.0.1:$llm_port/v1" LLM_API_KEY="demo-not-a-key"

say "starting the demo model (scripted answers) on 127.0.0.1:$llm_port"
python -m tests.fakes.llm --tour --port "$llm_port" > "$DEMO_DIR/llm.log" 2>&1 &
llm_pid=$!
trap 'kill "$llm_pid" 2>/dev/null || true' EXIT

say "applying database migrations (demo database: .run/demo/demo.db)"
python -m pyairtable_ui.manage migrate
say "the demo account and its sample base"
PYTHONPATH="$ROOT" python scripts/demo_account.py
bash scripts/run.sh
