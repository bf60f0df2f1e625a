#!/usr/bin/env bash
# `make benchmark-peers`: airtable-mcp-server from the npm registry and this app on the
# same rate-limited emulator (benchmarks/peers.py). Not part of `make test`.
#
# The peer is installed once into .tools/peers (PEERS_DIR overrides), pinned, with npm
# as configured on this machine; node runs it with benchmarks/peers_fetch.mjs preloaded.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

PEER_VERSION=1.14.0
export PEERS_DIR="${PEERS_DIR:-$ROOT/.tools/peers}"
installed="$(node -p "require('$PEERS_DIR/node_modules/airtable-mcp-server/package.json').version" 2>/dev/null || true)"
if [ "$installed" != "$PEER_VERSION" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is needed to install airtable-mcp-server. Install Node.js and npm." >&2
    exit 1
  fi
  say "installing airtable-mcp-server $PEER_VERSION into ${PEERS_DIR#"$ROOT"/}"
  mkdir -p "$PEERS_DIR"
  npm install --prefix "$PEERS_DIR" --no-fund --no-audit --loglevel=error \
    "airtable-mcp-server@$PEER_VERSION"
fi
python -m benchmarks.peers
