# host/commit-file.py: argv: path, mode (octal, e.g. 640); stdin: the content. Writes the file
# durably, all or nothing (_durable.py commit: `<path>.tmp` with that mode, fsync, rename onto
# `path`, fsync of its folder). A reader finds the old file or the whole new one, before and after
# a power loss (a snapshot's manifest: the snapshot counts as complete from it, and retention may
# remove older ones next). Prints nothing.
import sys
from _durable import commit  # inlined
commit(sys.argv[1], sys.stdin.buffer.read(), int(sys.argv[2], 8))
