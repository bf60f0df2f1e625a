#!/usr/bin/env bash
# Builds the page once (.web/build), stamped with the key of the source and of the settings
# baked into it (PUBLIC_URL or REFLEX_API_URL, ANSWER_IMAGE_HOSTS, PORT without them).
# scripts/run.sh serves that build as it is: every replica started from one build, and every
# restart, serves the same asset names. Building again names them differently.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

export PORT="${PORT:-8000}"
# Building reads the settings but needs no secret: production's SECRET_KEY check is for
# serving. APP_ENV changes nothing in the page.
export APP_ENV=development

key="$(python scripts/frontend.py key)"
if [ "${1:-}" != "--force" ] && python scripts/frontend.py current; then
  say "the page is already built for this source and these settings (--force builds again)"
  exit 0
fi
say "building the page (a few minutes the first time)"
reflex export --frontend-only --no-zip --env prod --loglevel "${REFLEX_LOGLEVEL:-warning}"
python scripts/frontend.py stamp "$key"
say "built: scripts/run.sh serves this build without building again"
