# host/restart-group.py: argv: run dir of the group (its daemons' working directory), expected
# process count, timeout seconds, respawn grace seconds. Sends SIGINT to every daemon of the group
# (waiting up to the grace for one to run) and waits until the same number of new ones run. Prints
# the new PIDs. Exit 3 when no daemon of the group was found.
import os, sys
from _group import await_group, signal_group  # inlined
rundir, want, timeout = os.path.realpath(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
await_group(rundir, want, timeout, signal_group(rundir, float(sys.argv[4])))
