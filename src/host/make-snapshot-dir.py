# host/make-snapshot-dir.py: argv: snapshots dir, then candidate names. Makes the snapshots dir when
# it is missing (mode 0750, as `mkdir -p -m 750`: not masked by the umask; its parents as `mkdir -p`
# makes them; one that is there is left as it is), then the first candidate that does not exist as
# `<snapshots dir>/<name>` (mkdir(2): exclusive, as `mkdir <dir>` is; the new snapshot's mode from
# the umask), in one process: one spawn or SSH round trip where `mkdir -p -m 750` and `mkdir` took
# one each. Prints the name made and exits 0; otherwise prints what `mkdir <dir>` would (`mkdir:
# cannot create directory '<path>': <strerror>`) on stderr and exits 1: every candidate exists (the
# last one named), or another failure (read-only, permission, no space).
import os, sys
top, names = sys.argv[1], sys.argv[2:]


def fail(path, e):
    sys.stderr.write("mkdir: cannot create directory '%s': %s\n" % (path, e.strerror))
    sys.exit(1)


if not names:
    sys.stderr.write('make-snapshot-dir: no candidate name given\n')
    sys.exit(2)
try:
    os.makedirs(os.path.dirname(top.rstrip('/')) or '/', exist_ok=True)
    os.mkdir(top, 0o700)
    os.chmod(top, 0o750)
except FileExistsError:
    pass
except OSError as e:
    fail(e.filename or top, e)
for name in names:
    path = os.path.join(top, name)
    try:
        os.mkdir(path)
    except FileExistsError as e:
        last = (path, e)
        continue
    except OSError as e:
        fail(path, e)
    print(name)
    sys.exit(0)
fail(*last)
