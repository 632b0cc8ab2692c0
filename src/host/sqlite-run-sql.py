# host/sqlite-run-sql.py: argv: database file, SQL file. Runs the file's statements in one transaction
# (BEGIN IMMEDIATE ... COMMIT); on an error, rolled back, exit 1 with the SQL file and sqlite's message.
# Exit 2 when the database file is missing.
import os, sqlite3, sys
path, sql_file = sys.argv[1], sys.argv[2]
if not os.path.isfile(path):
    sys.stderr.write('%s: no such database file\n' % path)
    sys.exit(2)
with open(sql_file, encoding='utf-8') as f:
    script = f.read()
stmts, buf = [], ''
for ch in script:
    buf += ch
    if ch == ';' and sqlite3.complete_statement(buf):
        stmts.append(buf)
        buf = ''
if buf.strip():
    stmts.append(buf)
con = sqlite3.connect(path, timeout=60, isolation_level=None)
try:
    con.execute('BEGIN IMMEDIATE')
    for s in stmts:
        con.execute(s)
    con.execute('COMMIT')
except sqlite3.Error as e:
    if con.in_transaction:
        con.execute('ROLLBACK')
    sys.stderr.write('%s: %s\n' % (sql_file, e))
    sys.exit(1)
finally:
    con.close()
