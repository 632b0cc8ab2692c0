# host/sqlite-restore.py: argv: backup file, target database file, scratch id. Copies the backup
# into a temp file next to the target, checks it (`PRAGMA integrity_check` must say ok), gives it
# the target's owner and mode, then renames it over the target in one rename(2) and removes the old
# file's WAL side files. Any failure before the rename leaves the target as it was and removes the
# temp file.
import os, sqlite3, sys
backup, target, rid = sys.argv[1], sys.argv[2], sys.argv[3]
target = os.path.abspath(target)
tmp = os.path.join(os.path.dirname(target), '.%s.sc-restore-%s' % (os.path.basename(target), rid))
def cleanup():
    for p in (tmp, tmp + '-journal', tmp + '-wal', tmp + '-shm'):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
try:
    if not os.path.isfile(backup):
        raise SystemExit('%s: no such backup file' % backup)
    src = sqlite3.connect(backup)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst, pages=-1)
        ok = dst.execute('PRAGMA integrity_check').fetchall()
        if ok != [('ok',)]:
            raise SystemExit('%s failed its integrity check: %r' % (backup, ok[:5]))
        dst.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    finally:
        dst.close()
        src.close()
    with open(tmp, 'rb') as f:
        os.fsync(f.fileno())
    if os.path.exists(target):
        st = os.stat(target)
        os.chown(tmp, st.st_uid, st.st_gid)
        os.chmod(tmp, st.st_mode & 0o7777)
        live = sqlite3.connect(target, timeout=60)
        try:
            live.execute('PRAGMA wal_checkpoint(TRUNCATE)')
        finally:
            live.close()
except BaseException as e:
    cleanup()
    if isinstance(e, SystemExit):
        raise
    sys.stderr.write('restore into %s failed: %s\n' % (target, e))
    sys.exit(1)
os.rename(tmp, target)
for side in ('-wal', '-shm'):
    try:
        os.unlink(target + side)
    except FileNotFoundError:
        pass
d = os.open(os.path.dirname(target), os.O_RDONLY)
os.fsync(d)
os.close(d)
