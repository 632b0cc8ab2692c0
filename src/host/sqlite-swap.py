# host/sqlite-swap.py: argv: scratch, target, keep. Put the database file `scratch` in the place of
# `target`, the previous file (checkpointed first, so its WAL is in it) going to `keep`: a hard
# link of the target to `keep`, then one rename of `scratch` over the target, so the target path
# always holds a whole database. Owner and mode of the previous file carry over. Prints `replaced`
# or `created` (no target before).
import os, sqlite3, sys
scratch, target, keep = sys.argv[1], sys.argv[2], sys.argv[3]
if not os.path.isfile(scratch):
    sys.exit('%s: no such database file' % scratch)
if not os.path.exists(target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.rename(scratch, target)
    print('created')
    sys.exit(0)
live = sqlite3.connect(target, timeout=60)
try:
    live.execute('PRAGMA wal_checkpoint(TRUNCATE)')
finally:
    live.close()
st = os.stat(target)
os.chown(scratch, st.st_uid, st.st_gid)
os.chmod(scratch, st.st_mode & 0o7777)
if os.path.exists(keep):
    os.unlink(keep)
os.link(target, keep)
for p in (target + '-wal', target + '-shm', target + '-journal'):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
os.rename(scratch, target)
print('replaced')
