# host/sqlite-backup.py: argv: source database file, destination file. Copies a live SQLite
# database with the online backup API in one step (a consistent snapshot, whatever writers do
# meanwhile), checks the copy (`PRAGMA integrity_check`), fsyncs it. The destination must not
# exist.
import os, sqlite3, sys
src_path, dest = sys.argv[1], sys.argv[2]
if not os.path.isfile(src_path):
    sys.stderr.write('%s: no such database file\n' % src_path)
    sys.exit(2)
if os.path.exists(dest):
    sys.stderr.write('%s: already exists\n' % dest)
    sys.exit(2)
src = sqlite3.connect(src_path, timeout=60)
dst = sqlite3.connect(dest)
try:
    src.backup(dst, pages=-1)
    ok = dst.execute('PRAGMA integrity_check').fetchall()
    if ok != [('ok',)]:
        raise SystemExit('the copy of %s failed its integrity check: %r' % (src_path, ok[:5]))
finally:
    dst.close()
    src.close()
with open(dest, 'rb') as f:
    os.fsync(f.fileno())
