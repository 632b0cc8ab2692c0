# host/pg-checksums-beside-script.py: argv: psql's argv for the reading session and psql's argv
# running the anonymising script (`-f`, one transaction), each as JSON; stdin: JSON {"first":
# SQL, "then": SQL}. A sync's scratch copy: its checksums taken while the script already runs on
# it (two sessions, so two cores), both still seeing the copy as restored.
# The reading session opens a REPEATABLE READ transaction, takes ACCESS SHARE locks on every
# table and runs `first` (the source values' hashes the anonymisation check needs; its first
# query fixes the transaction's snapshot, after the locks), and only then is the script started:
# its UPDATEs do not change what the reading session sees, and any statement of it that is not
# MVCC-safe (TRUNCATE, a rewriting ALTER TABLE) waits for the locks, until the reading session has
# read everything. Then `then` (the checksums) runs in the reading session beside the script.
# Prints the lines `then` printed, then one JSON line {"script": exit code of the script's psql};
# the script's stderr is passed through. Exit code 0; 5 when `first` failed (its error on stderr;
# the script was not started, nothing changed); 3 when `then` failed (the lines printed tell how
# far it got; the script was stopped). SIGTERM ends both clients with it (_children.py).
import json, subprocess, sys
from _psql_session import commit, open_session, run_until, start  # inlined
reader_argv, script_argv = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sql = json.loads(sys.stdin.read())
reader = open_session(reader_argv)
_, first_done = run_until(reader, sql['first'], '__sitecycle_first_done__')
if not first_done:
    reader.wait()
    sys.exit(5)
script = start(script_argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
lines, finished = run_until(reader, sql['then'], '__sitecycle_then_done__')
sys.stdout.write(''.join(lines))
sys.stdout.flush()
if not finished:
    for c in (script, reader):
        if c.poll() is None:
            c.terminate()
    script.wait()
    reader.wait()
    sys.exit(3)
commit(reader)
print(json.dumps({'script': script.wait()}))
