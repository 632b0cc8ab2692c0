# host/release-lock.py: releases a site's lock if the given operation still holds it, in one process
# (one spawn, or one SSH round trip), then removes the `lock.<id>` folders of attempts killed between
# their mkdir and their rename (older than a minute, so a contender in the middle of its attempt is
# left alone; errors there are ignored). argv: the site's state dir (.sitecycle), operation id.
# The holder is read as src/sites/lock.ts reads it: no `lock`, or a holder file that is not a JSON
# object with this id (missing or unreadable JSON counts as held by "unknown"), is not released.
# Prints one JSON line, exit 0: `{"released": true}`, `{"released": false}` (not this operation's),
# or `{"released": false, "step", "path", "detail"}` when the holder could not be read (step read)
# or the lock not removed (step remove).
import errno, json, os, sys, time
state_dir, op_id = sys.argv[1:3]
lock = os.path.join(state_dir, 'lock')
holder_file = os.path.join(lock, 'holder.json')
def done(**fields):
    sys.stdout.write(json.dumps(fields) + '\n')
    sys.exit(0)
try:
    with open(holder_file, 'rb') as f:
        text = f.read().decode('utf-8', 'replace')
except FileNotFoundError:
    text = None
except OSError as e:
    code = errno.errorcode.get(e.errno, str(e.errno))
    done(released=False, step='read', path=holder_file, detail="%s: %s, open '%s'" % (code, e.strerror[:1].lower() + e.strerror[1:], holder_file))
if text is None:
    held = 'unknown' if os.path.isdir(lock) else None
else:
    try:
        held = json.loads(text)
        held = held.get('id') if isinstance(held, dict) else None
    except ValueError:
        held = 'unknown'
if held != op_id:
    done(released=False)
import shutil
try:
    shutil.rmtree(lock)
except OSError as e:
    shutil.rmtree(lock, ignore_errors=True)
    done(released=False, step='remove', path=lock, detail="rm: cannot remove '%s': %s" % (e.filename or lock, e.strerror))
# Here, not when taking the lock: it stays off the path of a rollback's switch.
try:
    now = time.time()
    with os.scandir(state_dir) as entries:
        for entry in entries:
            if entry.name.startswith('lock.') and entry.is_dir(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > 60:
                shutil.rmtree(entry.path, ignore_errors=True)
except OSError:
    pass
done(released=True)
