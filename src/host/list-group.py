# host/list-group.py: argv: rundir. Prints the PIDs of the group's daemons (may be empty).
import os, sys
rundir = os.path.realpath(sys.argv[1])
out = []
for name in os.listdir('/proc'):
    if name.isdigit():
        try:
            if os.readlink('/proc/%s/cwd' % name) == rundir:
                out.append(name)
        except OSError:
            pass
print(' '.join(sorted(out)))
