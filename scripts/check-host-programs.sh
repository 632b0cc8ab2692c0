#!/usr/bin/env bash
# The host programs (src/host/*.py, run on servers as `python3 -c <text>`): each must compile with
# the hosts' Python and pass pyflakes (Debian's python3-pyflakes: undefined names, unused imports).
# Each file is checked as it is: its `from _x import ...  # inlined` lines import the sibling
# module for real, so pyflakes sees every name. One line names each failure.
set -uo pipefail
cd "$(dirname "$0")/.."
python=/usr/bin/python3
rc=0
export PYTHONPYCACHEPREFIX="$PWD/.tmp/host-pycache"
for f in src/host/*.py; do
  out=$("$python" -m py_compile "$f" 2>&1) || { echo "$out" >&2; echo "host programs: $f does not compile with $python" >&2; rc=1; }
done
out=$("$python" -m pyflakes src/host/*.py 2>&1) || {
  echo "$out" >&2
  echo "host programs: pyflakes found problems in src/host (above)" >&2
  rc=1
}
exit $rc
