# host/await-group.py: argv: run dir of the group, expected process count, timeout seconds, the
# PIDs signal-group.py printed. Waits until that many new daemons run and none of the old; prints
# the new PIDs.
import os, sys
from _group import await_group  # inlined
rundir, want, timeout = os.path.realpath(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
await_group(rundir, want, timeout, set(int(p) for p in sys.argv[4].split()))
