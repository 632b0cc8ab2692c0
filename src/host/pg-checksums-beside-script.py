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
from _children import start  # inlined
reader_argv, script_argv = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sql = json.loads(sys.stdin.read())
MARK = '__sitecycle_first_done__'
END = '__sitecycle_then_done__'


def stop(*children):
    for c in children:
        if c.poll() is None:
            c.terminate()


reader = start(reader_argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding='utf-8')


def send(text):
    try:
        reader.stdin.write(text)
        reader.stdin.flush()
        return True
    except BrokenPipeError:
        return False


def read_until(mark):
    lines = []
    for line in reader.stdout:
        if line.strip() == mark:
            return lines, True
        lines.append(line)
    return lines, False


send(sql['first'] + '\n\\echo ' + MARK + '\n')
_, first_done = read_until(MARK)
if not first_done:
    reader.wait()
    sys.exit(5)
script = start(script_argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
lines, finished = [], False
if send(sql['then'] + '\n\\echo ' + END + '\n'):
    lines, finished = read_until(END)
sys.stdout.write(''.join(lines))
sys.stdout.flush()
if not finished:
    stop(script, reader)
    script.wait()
    reader.wait()
    sys.exit(3)
send('COMMIT;\n')
try:
    reader.stdin.close()
except BrokenPipeError:
    pass
reader.wait()
print(json.dumps({'script': script.wait()}))
