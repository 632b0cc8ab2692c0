# host/sqlite-schema.py: argv: database file. Prints the tables (not sqlite_*) and their columns as
# one JSON array.
import json, os, sqlite3, sys
path = sys.argv[1]
if not os.path.isfile(path):
    sys.stderr.write('%s: no such database file\n' % path)
    sys.exit(2)
con = sqlite3.connect('file:%s?mode=ro' % path.replace('?', '%3f').replace('#', '%23'), uri=True, timeout=60)
out = []
for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"):
    for cid, col, ty, notnull, default, pk in con.execute('PRAGMA table_info("%s")' % name.replace('"', '""')):
        out.append([name, col, ty, not notnull and not pk])
con.close()
print(json.dumps(out))
