# host/commit-file.py: argv: path, mode (octal, e.g. 640); stdin: the content. Writes the file
# durably, all or nothing: the content into `<path>.tmp` (created with that mode), fsync, rename
# onto `path`, fsync of its directory. A reader finds the old file or the whole new one, before
# and after a power loss (a snapshot's manifest: the snapshot counts as complete from it, and
# retention may remove older ones next). Prints nothing.
import os, sys
path, mode = sys.argv[1], int(sys.argv[2], 8)
data = sys.stdin.buffer.read()
tmp = path + '.tmp'
fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
try:
    os.fchmod(fd, mode)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)
finally:
    os.close(fd)
os.replace(tmp, path)
d = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
try:
    os.fsync(d)
finally:
    os.close(d)
