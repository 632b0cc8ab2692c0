# host/_psql_session.py: a psql client fed on its standard input, for host programs that keep one
# transaction open while other processes work beside it (pg-dump-with-checksums.py,
# pg-checksums-beside-script.py). `open_session(argv)` starts it (ended with the program:
# _children.py); `send(p, text)` is False once psql has gone; `run_until(p, sql, mark)` sends `sql`
# then `\echo mark` and returns the lines printed before the mark and whether it came (psql stops
# at the first error with ON_ERROR_STOP); `commit(p)` commits, closes its input and waits for it.
# Inlined where used.
import subprocess
from _children import start  # inlined


def open_session(argv):
    return start(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding='utf-8')


def send(p, text):
    try:
        p.stdin.write(text)
        p.stdin.flush()
        return True
    except BrokenPipeError:
        return False


def run_until(p, sql, mark):
    lines = []
    if not send(p, sql + '\n\\echo ' + mark + '\n'):
        return lines, False
    for line in p.stdout:
        if line.strip() == mark:
            return lines, True
        lines.append(line)
    return lines, False


def commit(p):
    send(p, 'COMMIT;\n')
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass
    return p.wait()
