# host/sqlite-backup-with-counts.py: argv: source database file, destination file, partial file. A
# snapshot's copy, in one process: the online backup API in one step into the partial file (a new
# file nobody else opens: no journal and no sync while it is written) while a second connection
# counts each table's rows in the same state of the database (see same_state); then, at the same
# time (they wait on different things: the disk, the CPU), one fsync of the copy and its plain
# sha256 (read from the page cache the copy just filled, so the snapshot's SHA256SUMS need not read
# it again); then the rename to the destination and an fsync of its directory. When the writers'
# lock cannot be had at once (a long write transaction, a database we may not write), the rows are
# counted in the copy instead, beside the fsync and the sha256. No checksums: the copy is the dump,
# and its checksums are computed from it when it is read (see expectedTables). Prints JSON
# {tables: [[table, rows, ''] sorted by name], size: the copy's bytes, sourceSize: the database
# file's bytes, sha256: the copy's, identity: 'dev:inode:size:mtime_ns:ctime_ns' of the destination
# after the rename (the sum holds for that file while its identity is unchanged; a string:
# nanoseconds do not fit a JSON number)}. The destination must not exist; the partial file is
# removed on failure.
import hashlib, json, os, sqlite3, sys, threading, urllib.parse
from _durable import fsync_path  # inlined
src_path, dest, partial = sys.argv[1], sys.argv[2], sys.argv[3]
if not os.path.isfile(src_path):
    sys.stderr.write('%s: no such database file\n' % src_path)
    sys.exit(2)
if os.path.lexists(dest):
    sys.stderr.write('%s: already exists\n' % dest)
    sys.exit(2)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


# How long the writers' lock is waited for before the rows are counted in the copy instead.
WRITE_LOCK_WAIT = 0.25


def counts_of(con):
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
    return [[n, con.execute('SELECT count(*) FROM "%s"' % n.replace('"', '""')).fetchone()[0], ''] for n in names]


def row_counts(path):
    # Read only and immutable: no lock, no -wal or -shm file beside it, not a byte written while
    # the other threads read and sync it (the partial file is complete; nobody else opens it).
    uri = 'file:%s?mode=ro&immutable=1' % urllib.parse.quote(os.path.abspath(path))
    con = sqlite3.connect(uri, uri=True)
    try:
        return counts_of(con)
    finally:
        con.close()


def read_transaction(con):
    con.execute('BEGIN')
    con.execute('SELECT count(*) FROM sqlite_master').fetchone()  # the snapshot is taken here


def same_state(path):
    """Two connections, each in a read transaction that sees the same commit: both begin while a
    third holds the writers' lock (BEGIN IMMEDIATE), released as soon as they have begun (a write
    waits that long). The backup API copies in the first one's transaction, so the second counts
    rows of exactly what is copied. None when the lock is not had within WRITE_LOCK_WAIT."""
    lock = sqlite3.connect(path, timeout=WRITE_LOCK_WAIT, isolation_level=None)
    try:
        try:
            lock.execute('BEGIN IMMEDIATE')
        except sqlite3.OperationalError:
            return None  # busy, or a database we may only read
        try:
            src = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
            counter = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
            read_transaction(src)
            read_transaction(counter)
        finally:
            lock.execute('ROLLBACK')
    finally:
        lock.close()
    return src, counter


def together(*jobs):
    """Run each (function, argument) in a thread of its own (os.fsync, hashlib and SQLite let go of
    the GIL); their results in order, or the first exception raised again."""
    results = [None] * len(jobs)

    def run(i, fn, arg):
        try:
            results[i] = (True, fn(arg))
        except BaseException as e:
            results[i] = (False, e)

    threads = [threading.Thread(target=run, args=(i, fn, arg)) for i, (fn, arg) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for ok, value in results:
        if not ok:
            raise value
    return [value for _, value in results]


def copy_from(src):
    dst = sqlite3.connect(partial, isolation_level=None)
    try:
        dst.execute('PRAGMA journal_mode=OFF')
        dst.execute('PRAGMA synchronous=OFF')
        src.backup(dst, pages=-1)  # in src's read transaction when it has one
    finally:
        dst.close()


try:
    pair = same_state(src_path)
    if pair:
        src, counter = pair
        try:
            _, out = together((copy_from, src), (counts_of, counter))
        finally:
            src.close()
            counter.close()
        _, digest = together((fsync_path, partial), (sha256_file, partial))
    else:
        src = sqlite3.connect(src_path, timeout=60)
        try:
            copy_from(src)
        finally:
            src.close()
        _, digest, out = together((fsync_path, partial), (sha256_file, partial), (row_counts, partial))
    size = os.path.getsize(partial)
    os.rename(partial, dest)
    fsync_path(os.path.dirname(os.path.abspath(dest)))
    st = os.lstat(dest)
except BaseException:
    for p in (partial, partial + '-journal'):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
    raise
print(json.dumps({'tables': out, 'size': size, 'sourceSize': os.path.getsize(src_path), 'sha256': digest,
                  'identity': '%d:%d:%d:%d:%d' % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)}))
