#!/usr/bin/env bash
# The main job on embedded defaults: build the sample app 1.0.0, 2.0.0 and a broken 3.0.0,
# deploy them to a local site on a private Apache at 127.0.0.1:8080, and show the automatic
# rollback of 3.0.0. Extra arguments go to `sitecycle demo` (e.g. --port 8081).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/cli.js demo "$@"
