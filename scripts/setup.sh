#!/usr/bin/env bash
# Brings a fresh clone to a working state; every step is skipped when already done.
#   1. Debian packages + code-server (scripts/install-code-server.sh)
#   2. npm dependencies from package-lock.json (npm ci) when node_modules is missing or stale
#   3. the bundles in dist/ (npm run build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '[setup] %s\n' "$*" >&2; }

bash scripts/install-code-server.sh

stamp=node_modules/.llm101-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

node esbuild.mjs >/dev/null
