#!/usr/bin/env bash
# `npm run playground`: set up whatever is missing, then open the playground on samples/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
exec node "$root/scripts/playground.mjs"
