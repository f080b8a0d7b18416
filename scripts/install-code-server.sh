#!/usr/bin/env bash
# Installs what the tests and the playground need on a fresh Debian machine, offline except for
# the npm registry and Debian's apt:
#   - Debian packages: chromium (Playwright drives it), ripgrep (VS Code search), and the build
#     tools/headers code-server's native modules compile against (libkrb5-dev, pkg-config, g++, make).
#   - code-server 4.100.3 from npm (= VS Code 1.100.3, the last release that runs on Node 20),
#     cached in .vscode-test/code-server, with its native modules built from source.
# Idempotent: a second run only checks and returns in under a second.
#   SKIP_APT=1  leave apt alone     FORCE=1  reinstall code-server
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${CODE_SERVER_DIR:-$root/.vscode-test/code-server}
say() { printf '[setup] %s\n' "$*" >&2; }

# 1. Debian packages, only the missing ones.
if [ "${SKIP_APT:-0}" != 1 ]; then
  want=(chromium ripgrep libkrb5-dev pkg-config g++ make python3 python3-torch python3-numpy)
  missing=()
  for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      say "missing Debian packages; run as root or install them first:"
      echo "sudo apt-get update && sudo apt-get install -y ${missing[*]}"
      exit 1
    fi
    say "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

# node-gyp must compile against this Node's own headers instead of downloading them.
if [ -z "${npm_config_nodedir:-}" ]; then
  node_prefix=$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)
  [ -f "$node_prefix/include/node/node.h" ] && export npm_config_nodedir="$node_prefix"
fi
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false npm_config_yes=true

pkg="$dest/node_modules/code-server"
stamp="$dest/.ok-$CODE_SERVER_VERSION"
if [ -f "$stamp" ] && [ "${FORCE:-0}" != 1 ] && node "$pkg/out/node/entry.js" --config /dev/null --version >/dev/null 2>&1; then
  exit 0
fi
rm -f "$stamp"
mkdir -p "$dest"
# Its own package.json, or npm would climb up and install into this project.
[ -f "$dest/package.json" ] || echo '{ "name": "llm101-code-server-cache", "private": true }' >"$dest/package.json"

# 2. The package without its postinstall (which would download ripgrep from the internet).
say "npm install code-server@$CODE_SERVER_VERSION into $dest (about a minute)"
(cd "$dest" && npm install --save-exact --ignore-scripts "code-server@$CODE_SERVER_VERSION" >/dev/null)

# 3. The postinstall's work done by hand, with nothing downloaded.
(
  cd "$pkg/lib/vscode"
  npm install --omit=dev --ignore-scripts >/dev/null
  npm rebuild @parcel/watcher @vscode/spdlog kerberos native-watchdog node-pty @vscode/deviceid >/dev/null
  mkdir -p node_modules/@vscode/ripgrep/bin
  ln -sf /usr/bin/rg node_modules/@vscode/ripgrep/bin/rg
  ln -sfn node_modules node_modules.asar
  (cd bin/remote-cli && ln -sf code-linux.sh code-server)
  (cd bin/helpers && ln -sf browser-linux.sh browser.sh)
  (cd extensions && npm install --omit=dev >/dev/null)
)
# argon2 is hoisted to $dest/node_modules, so it is rebuilt from there (from source: no prebuilt download).
(cd "$dest" && npm_config_build_from_source=true npm rebuild argon2 >/dev/null 2>&1)

# 4. Check that it really works before stamping it.
node -e '
  const path = require("path");
  const mods = path.join(process.argv[1], "lib/vscode/node_modules");
  for (const m of ["node-pty", "@parcel/watcher", "@vscode/spdlog", "kerberos", "native-watchdog"]) require(path.join(mods, m));
  require(require.resolve("argon2", { paths: [process.argv[1]] }));
' "$pkg"
node "$pkg/out/node/entry.js" --config /dev/null --version >/dev/null
touch "$stamp"
say "code-server $CODE_SERVER_VERSION ready in $dest"
