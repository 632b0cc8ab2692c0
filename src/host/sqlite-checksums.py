# host/sqlite-checksums.py: argv: database file[, 'immutable']. Prints a JSON array of [table,
# rows, checksum] for every table (sorted by name). table_checksums(con): `[table, rows, checksum]`
# for every table of an open connection, sorted by name, in one read transaction. Each row is
# encoded on its own (`marshal` format 2: typed, C speed, no references) and hashed (BLAKE2b, 128
# bits); the checksum is the sum of the hashes modulo 2**128, in hex: independent of row order,
# streamed in constant memory whatever the table's size. Errors name the table.
import hashlib, json, marshal, os, sqlite3, sys, urllib.parse
def table_checksums(con):
    out = []
    con.execute('BEGIN')
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
        for name in names:
            total, rows = 0, 0
            blake2b, dumps, from_bytes = hashlib.blake2b, marshal.dumps, int.from_bytes
            try:
                for r in con.execute('SELECT * FROM "%s"' % name.replace('"', '""')):
                    total += from_bytes(blake2b(dumps(r, 2), digest_size=16).digest(), 'little')
                    rows += 1
            except (sqlite3.Error, ValueError) as e:
                raise SystemExit('could not checksum table %s: %s' % (name, e))
            out.append([name, rows, 'b2:%032x' % (total % (1 << 128))])
    finally:
        con.execute('COMMIT')
    return out
path = sys.argv[1]
if not os.path.isfile(path):
    sys.stderr.write('%s: no such database file\n' % path)
    sys.exit(2)
if len(sys.argv) > 2 and sys.argv[2] == 'immutable':
    # A snapshot's copy: read as it is, no lock taken, no -wal or -shm file made beside it.
    uri = 'file:%s?mode=ro&immutable=1' % urllib.parse.quote(os.path.abspath(path))
    con = sqlite3.connect(uri, uri=True, isolation_level=None)
else:
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
try:
    print(json.dumps(table_checksums(con)))
finally:
    con.close()
