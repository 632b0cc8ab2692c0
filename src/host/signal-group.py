# host/signal-group.py: argv: run dir of the group, respawn grace seconds[, slot link, target].
# restart-group.py without the wait: points the link, sends SIGINT to the group's daemons and prints
# their PIDs at once. Apache's parent respawns them on its next maintenance tick (within a second);
# await-group.py waits for that. Exit 3 when no daemon of the group was found within the grace.
import os, sys
from _group import signal_group  # inlined
print(' '.join(str(p) for p in sorted(signal_group(os.path.realpath(sys.argv[1]), float(sys.argv[2]), *sys.argv[3:5]))))
