#!/usr/bin/env bash
# `npm test`: every test of the project at its three levels, after setting up what they need.
#   lint        tsc --noEmit (strict) + ESLint
#   unit        node:test over test/unit (engine, tokenizers, CLI, protocol) - no VS Code
#   package     builds the .vsix and checks what it holds
#   exthost     mocha suites inside a real VS Code extension host (test/extension)
#   e2e         Playwright in the real VS Code workbench (test/e2e), screenshots in test-results/
#   newcomer    the first ten minutes with the default model: Open Playground, every "Show me", each
#               sample, Continue Text past the context, Compare with… (its view shot in three themes)
#   training    Train Model in the real workbench: the training panel, Stop, Analyze with the model
#   report      the standalone HTML report from the CLI, opened offline in Chromium
# The last line is "N passed, N failed" summed over all levels; the exit code is non-zero on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p test-results
passed=0 failed=0

# Adds the counts a step printed: node:test "ℹ pass N"/"# pass N", mocha "N passing/failing",
# our own runners "N passed, N failed". A step that failed without a failing count counts once.
count() { # $1 log file, $2 exit code
  local p f
  read -r p f < <(awk '
    /^(# |ℹ )pass [0-9]+$/ {p+=$3} /^(# |ℹ )fail [0-9]+$/ {f+=$3}
    /^ +[0-9]+ passing/ {p+=$1} /^ +[0-9]+ failing/ {f+=$1}
    /^[0-9]+ passed, [0-9]+ failed$/ {p+=$1; f+=$3}
    END {print p+0, f+0}' "$1")
  if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)) failed=$((failed + f))
}
step() { # step NAME COMMAND...
  local name=$1 log="test-results/$1.log"; shift
  echo "=== $name: $*"
  local t0=$SECONDS
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc in $((SECONDS - t0)) s"
  count "$log" "$rc"
}

if ! bash scripts/setup.sh; then
  echo "setup failed: see the messages above"
  echo "0 passed, 1 failed"
  exit 1
fi

step lint bash -c 'npx tsc --noEmit -p . && npx eslint . && echo "1 passed, 0 failed"'
step unit node --import tsx --test --test-reporter=spec test/unit/*.test.ts
step package node --import tsx --test --test-reporter=spec test/package/*.test.ts
step exthost node test/extension/runTest.cjs
step e2e node test/e2e/run.mjs
step newcomer node test/e2e/newcomer.mjs
step training node test/e2e/training.mjs
step report node test/e2e/report.mjs
step experiments node test/e2e/experiments.mjs

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
