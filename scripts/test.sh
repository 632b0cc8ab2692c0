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
npm run typecheck --silent
npm run lint --silent
mkdir -p .tmp
rc=0
npm test -- --json --outputFile=.tmp/jest-results.json || rc=$?
bash scripts/check-dist.sh || rc=1
# The runner runs the actions on node24: the unit tests and every bundle on Node 24 too.
bash scripts/node24-check.sh || rc=1
# One closing line any CI reads: "tests: N passed, N failed".
node -e '
  const r = require("./.tmp/jest-results.json")
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""))
' || echo "tests: 0 passed, 1 failed"
exit $rc
