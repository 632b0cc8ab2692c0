# host/make-snapshot-dir.py: argv: snapshots dir, '1' to make it first (with its parents) or '0' to
# make it only when it turns out missing, then candidate names. Makes the first candidate that does
# not exist as `<snapshots dir>/<name>` (mkdir(2): exclusive, as `mkdir <dir>` is; the new
# snapshot's mode from the umask), in one process: one spawn or SSH round trip where
# `mkdir -p -m 750` and `mkdir` took one each. The snapshots dir, when this makes it, gets mode
# 0750 (as `mkdir -p -m 750`: not masked by the umask; its parents as `mkdir -p` makes them).
# Prints the name made and exits 0; otherwise prints what `mkdir <dir>` would (`mkdir: cannot
# create directory '<path>': <strerror>`) on stderr and exits 1: every candidate exists (the last
# one named), or another failure (read-only, permission, no space).
import os, sys
top, make_first, names = sys.argv[1], sys.argv[2] == '1', sys.argv[3:]


def fail(path, e):
    sys.stderr.write("mkdir: cannot create directory '%s': %s\n" % (path, e.strerror))
    sys.exit(1)


def make_top():
    try:
        os.makedirs(os.path.dirname(top.rstrip('/')) or '/', exist_ok=True)
        os.mkdir(top, 0o700)
    except FileExistsError:
        return
    except OSError as e:
        fail(e.filename or top, e)
    os.chmod(top, 0o750)


if make_first:
    make_top()
made_top = make_first
last = None
i = 0
while i < len(names):
    path = os.path.join(top, names[i])
    try:
        os.mkdir(path)
    except FileExistsError as e:
        last = (path, e)
        i += 1
        continue
    except FileNotFoundError as e:
        if made_top:
            fail(path, e)
        make_top()
        made_top = True
        continue
    except OSError as e:
        fail(path, e)
    print(names[i])
    sys.exit(0)
if last is None:
    sys.stderr.write('make-snapshot-dir: no candidate name given\n')
    sys.exit(2)
fail(*last)
