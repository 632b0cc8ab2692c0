# host/sqlite-backup-with-counts.py: argv: source database file, destination file, partial file. A
# snapshot's copy, in one process: the online backup API in one step into the partial file (a new
# file nobody else opens: no journal and no sync while it is written), its tables with their row
# counts (no checksums: the copy is the dump, and its checksums are computed from it when it is
# read; see expectedTables), one fsync, then the rename to the destination. Prints JSON {tables:
# [[table, rows, ''] sorted by name], size: the copy's bytes, sourceSize: the database file's
# bytes}. The destination must not exist; the partial file is removed on failure.
import json, os, sqlite3, sys
src_path, dest, partial = sys.argv[1], sys.argv[2], sys.argv[3]
if not os.path.isfile(src_path):
    sys.stderr.write('%s: no such database file\n' % src_path)
    sys.exit(2)
if os.path.lexists(dest):
    sys.stderr.write('%s: already exists\n' % dest)
    sys.exit(2)
try:
    src = sqlite3.connect(src_path, timeout=60)
    dst = sqlite3.connect(partial, isolation_level=None)
    try:
        dst.execute('PRAGMA journal_mode=OFF')
        dst.execute('PRAGMA synchronous=OFF')
        src.backup(dst, pages=-1)
        names = [r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
        out = [[n, dst.execute('SELECT count(*) FROM "%s"' % n.replace('"', '""')).fetchone()[0], ''] for n in names]
    finally:
        dst.close()
        src.close()
    with open(partial, 'rb') as f:
        os.fsync(f.fileno())
    size = os.path.getsize(partial)
    os.rename(partial, dest)
    d = os.open(os.path.dirname(os.path.abspath(dest)), os.O_RDONLY)
    try:
        os.fsync(d)
    finally:
        os.close(d)
except BaseException:
    for p in (partial, partial + '-journal'):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    raise
print(json.dumps({'tables': out, 'size': size, 'sourceSize': os.path.getsize(src_path)}))
