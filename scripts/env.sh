# Sourced by the other scripts: where things live and the variables that keep Reflex offline.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
VENV="$ROOT/.venv"
TOOLS="$ROOT/.tools"
BUN_VERSION="1.4.5"
export PATH="$VENV/bin:$TOOLS/bin:$PATH"
export REFLEX_BUN_PATH="$TOOLS/bin/bun"
export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=false
export REFLEX_HTTP_CLIENT_BIND_ADDRESS=0.0.0.0
export LITELLM_LOCAL_MODEL_COST_MAP=True
export PYTHONDONTWRITEBYTECODE=1
# Reflex otherwise probes public npm mirrors for the fastest one; use the registry npm is set up with.
if [ -z "${NPM_CONFIG_REGISTRY:-}" ] && command -v npm >/dev/null 2>&1; then
  NPM_CONFIG_REGISTRY="$(npm config get registry 2>/dev/null)"
  export NPM_CONFIG_REGISTRY
fi

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
