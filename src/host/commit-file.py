# host/commit-file.py: argv: path, mode (octal, e.g. 640) and, optionally, the group the file
# belongs to (a name: Apache's, for a file its daemons read and others may not); stdin: the
# content. Writes the file durably, all or nothing (_durable.py commit: `<path>.tmp` with that mode
# and group, fsync, rename onto `path`, fsync of its folder). A reader finds the old file or the
# whole new one, before and after a power loss (a snapshot's manifest: the snapshot counts as
# complete from it, and retention may remove older ones next). Missing folders on the way are made
# (as the executors' writeFile does), each synced into its parent. Prints nothing.
import os, sys
from _durable import commit, fsync_path  # inlined
path = sys.argv[1]
gid = None
if len(sys.argv) > 3:
    import grp
    try:
        gid = grp.getgrnam(sys.argv[3]).gr_gid
    except KeyError:
        sys.stderr.write('%s: no group %s on this host\n' % (path, sys.argv[3]))
        sys.exit(2)
missing = []
folder = os.path.dirname(os.path.abspath(path))
while not os.path.isdir(folder):
    missing.append(folder)
    folder = os.path.dirname(folder)
for folder in reversed(missing):
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    fsync_path(os.path.dirname(folder))
commit(path, sys.stdin.buffer.read(), int(sys.argv[2], 8), gid)
