# host/pg-dump-with-checksums.py: argv: psql's argv and pg_dump's argv, each as JSON; stdin: the
# checksum SQL. Dumps and takes the checksums at once, both in one snapshot of the database: psql
# opens a REPEATABLE READ transaction and exports its snapshot (`pg_export_snapshot()`), pg_dump
# starts with `--snapshot=<it>`, and the checksum SQL runs in the exporting transaction while
# pg_dump works (two processes, so two cores). The transaction stays open until pg_dump ends (a
# snapshot can only be imported while its exporter lives). Prints the checksum lines on stdout;
# exit code 0, or 3 when the checksums failed (the lines printed tell how far they got; pg_dump is
# stopped), or 4 when pg_dump failed, or 5 when no snapshot could be exported (psql could not
# connect). SIGTERM ends psql and pg_dump with it (_children.py).
import json, subprocess, sys
from _psql_session import commit, open_session, run_until, send, start  # inlined
psql_argv, dump_argv = json.loads(sys.argv[1]), json.loads(sys.argv[2])
checksum_sql = sys.stdin.read()
p = open_session(psql_argv)
send(p, 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\nSELECT pg_export_snapshot();\n')
snapshot = p.stdout.readline().strip()
if not snapshot:
    sys.stderr.write('could not open a transaction and export its snapshot\n')
    p.kill()
    p.wait()
    sys.exit(5)
d = start(dump_argv + ['--snapshot=' + snapshot], stdin=subprocess.DEVNULL)
lines, finished = run_until(p, checksum_sql, '__sitecycle_checksums_end__')
sys.stdout.write(''.join(lines))
sys.stdout.flush()
if not finished:
    d.terminate()
    d.wait()
    p.wait()
    sys.exit(3)
dump_code = d.wait()
commit(p)
if dump_code != 0:
    sys.stderr.write('pg_dump exited with code %d\n' % dump_code)
    sys.exit(4)
