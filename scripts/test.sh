#!/usr/bin/env bash
# All the tests: type check, lint, the bundle (and that the committed dist/ is current),
# unit tests and integration tests against real Apache + mod_wsgi, pip and sshd.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# pip must not see a machine's own settings (local package folders a server does not have).
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL || true
# The harness runs the node24 actions on Node 24, as the runner does (the npm package node@24).
SITECYCLE_NODE24=$(npm exec --yes --package=node@24 -- node -p process.execPath)
export SITECYCLE_NODE24
mkdir -p .tmp
rm -f .tmp/jest-*.json
rc=0
# The host programs compile and pass pyflakes (seconds: before the long steps, to fail fast).
bash scripts/check-host-programs.sh || {
  echo "tests: 0 passed, 1 failed (a host program in src/host does not compile or fails pyflakes)"
  exit 1
}
# Type check and lint (single-threaded, as rollup is) beside the bundle build: both must pass.
{ npm run typecheck --silent && npm run lint --silent; } >.tmp/static-checks.log 2>&1 &
static_pid=$!
# The bundles once: the tests run them, and dist/ must equal this build (compared, not rebuilt).
npx rollup -c rollup.config.js --silent || {
  echo "tests: 0 passed, 1 failed (the bundle did not build)"
  exit 1
}
wait "$static_pid" || {
  cat .tmp/static-checks.log >&2
  echo "tests: 0 passed, 1 failed (type check or lint failed)"
  exit 1
}
cat .tmp/static-checks.log >&2
bash scripts/check-dist.sh --no-build || rc=1
# The runner runs the actions on node24: the unit tests and every bundle on Node 24 too, in the
# background while the tests of this runtime run (its log is shown after them).
bash scripts/node24-check.sh >.tmp/node24-check.log 2>&1 &
node24_pid=$!
# Every test file uses its own temp dirs, free ports and servers, so files run side by side,
# except the load tests, which count the requests that fail during a deploy: those run alone
# afterwards, with the machine to themselves.
SERIAL='/__tests__/integration/(zero-downtime|frozen-deploy-load|init-shared-apache|access-maintenance)\.test\.ts$'
WORKERS=${SITECYCLE_TEST_WORKERS:-3}
export NODE_OPTIONS=--experimental-vm-modules
npx jest --maxWorkers="$WORKERS" --testPathIgnorePatterns "$SERIAL" \
  --json --outputFile=.tmp/jest-parallel.json || rc=1
wait "$node24_pid" || rc=1
cat .tmp/node24-check.log >&2
npx jest --runInBand --selectProjects integration --testPathPatterns "$SERIAL" \
  --json --outputFile=.tmp/jest-serial.json || rc=1
unset NODE_OPTIONS
node scripts/merge-jest-results.mjs .tmp/jest-results.json .tmp/jest-parallel.json .tmp/jest-serial.json || rc=1
# One closing line any CI reads: "tests: N passed, N failed".
node -e '
  const r = require("./.tmp/jest-results.json")
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""))
' || echo "tests: 0 passed, 1 failed"
exit $rc
