# host/sqlite-compact.py: argv: database file. `VACUUM`: rebuild the file without free pages, then
# `ANALYZE`.
import os, sqlite3, sys
path = sys.argv[1]
if not os.path.isfile(path):
    sys.stderr.write('%s: no such database file\n' % path)
    sys.exit(2)
con = sqlite3.connect(path, timeout=60, isolation_level=None)
try:
    con.execute('VACUUM')
    con.execute('ANALYZE')
finally:
    con.close()
