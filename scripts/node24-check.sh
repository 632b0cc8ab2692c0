#!/usr/bin/env bash
# The runner runs the actions on node24 (runs.using: node24): run the unit tests on Node 24 (the
# npm package node@24) and start every bundled action there, which must fail with one clear
# ::error:: about its missing input (so the bundle loads and reads its inputs on that runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE24=$(npm exec --yes --package=node@24 -- node -p process.execPath 2>/dev/null)
echo "node24-check: $("$NODE24" --version) at $NODE24" >&2
NODE_OPTIONS=--experimental-vm-modules "$NODE24" node_modules/jest/bin/jest.js --selectProjects unit --silent
for bundle in dist/*.js; do
  name=$(basename "$bundle" .js)
  [ "$name" = cli ] && continue
  out=$(env -i PATH="$PATH" HOME="$HOME" GITHUB_OUTPUT=/dev/null "$NODE24" "$bundle" 2>&1 || true)
  if ! grep -q '^::error::input' <<<"$out"; then
    echo "node24-check: $bundle did not answer with an input error on Node 24:" >&2
    echo "$out" >&2
    exit 1
  fi
done
"$NODE24" dist/cli.js --help >/dev/null
echo "node24-check: unit tests and $(ls dist/*.js | wc -l) bundles fine on Node 24" >&2
