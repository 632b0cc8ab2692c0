#!/usr/bin/env bash
# dist/ is committed (actions run it as it is): fail when it differs from a fresh build, a chunk
# changed, missing or extra included (in a clone or a git worktree: there .git is a file).
# --no-build: compare only, for a caller that has just built dist/ (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  --no-build) ;;
  '') npx rollup -c rollup.config.js --silent ;;
  *)
    echo "check-dist: unknown option '$1' (the only one is --no-build)" >&2
    exit 2
    ;;
esac
if [ -e .git ] && ! git diff --quiet -- dist/; then
  echo "check-dist: dist/ is not current; run 'npm run bundle' and commit dist/:" >&2
  git diff --stat -- dist/ >&2
  exit 1
fi
if [ -e .git ] && [ -n "$(git ls-files --others --exclude-standard -- dist/)" ]; then
  echo "check-dist: new files in dist/ are not committed:" >&2
  git ls-files --others --exclude-standard -- dist/ >&2
  exit 1
fi
echo "check-dist: dist/ is current" >&2
