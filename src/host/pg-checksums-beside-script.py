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
# far it got; the script was stopped).
import json, os, signal, subprocess, sys
reader_argv, script_argv = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sql = json.loads(sys.stdin.read())
MARK = '__sitecycle_first_done__'
END = '__sitecycle_then_done__'
children = []


def stop_all():
    for c in children:
        if c.poll() is None:
            c.terminate()


def on_term(signum, frame):
    # The clients get SIGTERM too (as each would have got it had it been started on its own), and
    # this program ends at once: nothing here waits or takes a lock (the interrupted code may hold
    # subprocess's own), so os.kill and os._exit only.
    for c in children:
        try:
            os.kill(c.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    os._exit(128 + signum)


signal.signal(signal.SIGTERM, on_term)
reader = subprocess.Popen(reader_argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding='utf-8')
children.append(reader)


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
script = subprocess.Popen(script_argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
children.append(script)
lines, finished = [], False
if send(sql['then'] + '\n\\echo ' + END + '\n'):
    lines, finished = read_until(END)
sys.stdout.write(''.join(lines))
sys.stdout.flush()
if not finished:
    stop_all()
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
