# host/sqlite-query.py: argv: database file, one SQL query. Prints its rows, one line each, columns
# joined by `|`.
import os, sqlite3, sys
if not os.path.isfile(sys.argv[1]):
    sys.exit('%s: no such database file' % sys.argv[1])
con = sqlite3.connect(sys.argv[1], timeout=60)
try:
    for row in con.execute(sys.argv[2]):
        print('|'.join('' if v is None else str(v) for v in row))
    con.commit()
except sqlite3.Error as e:
    sys.exit('%s: %s' % (sys.argv[1], e))
finally:
    con.close()
