# host/resident-python.py: runs the local executor's host programs (`python3 -I -S -c <program>
# args...` on this machine) without starting an interpreter for each. Started once per Python by
# src/hosts/resident-python.ts and kept while sitecycle runs; it imports the modules the host
# programs use once, then forks one child per program: each program still runs in a process of its
# own (its own globals, exit code, signals, threads; nothing one program does reaches the next),
# but starts in about a millisecond instead of one interpreter's start and imports (tens of
# milliseconds, more on a busy machine: a rollback's warm switch is one such program).
#
# Protocol, one JSON object a line. On fd 0, from sitecycle:
# - `{"op": "run", "id", "code", "args", "env", "cwd", "input"}`: run `code` as `python3 -I -S -c
#   code args...` would, with exactly the environment `env`, in `cwd` (null: here), `input`
#   (base64, or null) on its standard input, which is then closed;
# - `{"op": "kill", "id", "signal"}`: send the signal to that run's process.
# On fd 1, to sitecycle: `{"id", "fd": 1|2, "data"}` (base64, as the program wrote it) and, after
# all its output, `{"id", "exit"}` (the exit code; 128 + n when signal n ended it).
#
# When sitecycle goes (fd 0 at its end, or SIGTERM: the server is started under `setpriv
# --pdeathsig TERM`), every running program gets SIGTERM, as each would have got it had it been
# started on its own (src/util/die-with-parent.ts), and the server ends.
import base64, io, json, os, select, signal, sys

# What host programs import (src/host/*.py), most used first: imported here one at a time while no
# program runs (the server answers its first request before it has imported them all, and a
# program forked later finds them imported); a module this Python lacks is left to the program
# that needs it to report. Not urllib.request (probe-http.py's): this machine's probes are asked
# from Node (LocalExecutor.httpGet), and its import (about 10 ms: ssl, http.client, email) would
# hold up a command's first program while it ran.
PRELOAD = ['hashlib', 'stat', 're', 'time', 'errno', 'threading', 'shutil', 'sqlite3', 'subprocess',
           'urllib.parse', 'atexit', 'tempfile', 'glob', 'pathlib', 'gzip', 'csv', 'marshal',
           'traceback']


def preload_one():
    try:
        __import__(PRELOAD.pop(0))
    except ImportError:
        pass


REQUESTS, REPLIES = os.dup(0), os.dup(1)
# How long a program's output is still read after it ended: a process it started in the background
# may hold its pipes for ever (src/hosts/local-executor.ts waits as long).
DRAIN_SECONDS = 1.0
MAX_FD = os.sysconf('SC_OPEN_MAX') if hasattr(os, 'sysconf') else 65536
STDIO = [(s.encoding, s.errors) for s in (sys.stdin, sys.stdout, sys.stderr)]
KEEP = [sys.stdin, sys.stdout, sys.stderr]  # never collected: they would close fds 0 to 2
compiled = {}


class Run:
    def __init__(self, run_id, pid, out_r, err_r, in_w, data):
        self.id, self.pid = run_id, pid
        self.readers = {out_r: 1, err_r: 2}
        self.in_w, self.pending = in_w, memoryview(data)
        self.status, self.drain_until = None, None


runs_by_pid = {}
runs_by_id = {}


def reply(obj):
    data = (json.dumps(obj, separators=(',', ':')) + '\n').encode()
    while data:
        data = data[os.write(REPLIES, data):]


def child(req, code, in_r, out_w, err_w):
    """In the forked child: become the program's process, run it, and never return."""
    import builtins
    signal.set_wakeup_fd(-1)
    for s in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(s, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.dup2(in_r, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.closerange(3, MAX_FD)
    modes = ('rb', 'wb', 'wb')
    streams = []
    for fd, (encoding, errors) in enumerate(STDIO):
        raw = io.open(fd, modes[fd], buffering=-1, closefd=False)
        streams.append(io.TextIOWrapper(raw, encoding=encoding, errors=errors,
                                        line_buffering=(fd == 2)))
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams
    os.environ.clear()
    os.environ.update(req['env'])
    status = 0
    try:
        if req.get('cwd') is not None:
            try:
                os.chdir(req['cwd'])
            except OSError:
                sys.stderr.write('cd: %s: No such file or directory\n' % req['cwd'])
                raise SystemExit(1)
        sys.argv = ['-c'] + list(req['args'])
        if isinstance(code, BaseException):  # it did not compile: no frame to show, as python -c
            import traceback
            traceback.print_exception(type(code), code, None)
            raise SystemExit(1)
        exec(code, {'__name__': '__main__', '__builtins__': builtins, '__doc__': None,
                    '__spec__': None, '__loader__': None, '__package__': None})
    except SystemExit as e:
        status = exit_status(e.code)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException as e:
        # The program's frames only (this function's is the first).
        import traceback
        traceback.print_exception(type(e), e, e.__traceback__.tb_next)
        status = 1
    # As at an interpreter's exit: wait for the program's non-daemon threads, run its atexit
    # functions (neither module is imported here when the program did not import it).
    if 'threading' in sys.modules:
        try:
            sys.modules['threading']._shutdown()
        except Exception:
            pass
    if 'atexit' in sys.modules:
        try:
            sys.modules['atexit']._run_exitfuncs()
        except SystemExit as e:
            status = exit_status(e.code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            status = status or 120
    os._exit(status)


def exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write('%s\n' % (code,))
    except Exception:
        pass
    return 1


def compile_program(text):
    code = compiled.get(text)
    if code is None:
        try:
            code = compile(text, '<string>', 'exec')
        except (SyntaxError, ValueError) as e:
            return e  # raised in the child: the traceback and exit 1, as python -c gives
        if len(compiled) > 200:
            compiled.clear()
        compiled[text] = code
    return code


def start(req):
    code = compile_program(req['code'])
    data = base64.b64decode(req['input']) if req.get('input') else b''
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            child(req, code, in_r, out_w, err_w)
        finally:
            os._exit(70)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    if not data:
        os.close(in_w)
        in_w = None
    else:
        os.set_blocking(in_w, False)
    run = Run(req['id'], pid, out_r, err_r, in_w, data)
    runs_by_pid[pid] = run
    runs_by_id[run.id] = run


def close_input(run):
    if run.in_w is not None:
        os.close(run.in_w)
        run.in_w = None


def finish_if_done(run, now):
    if run.status is None:
        return
    if run.readers and now < run.drain_until:
        return
    for fd in run.readers:
        os.close(fd)
    run.readers = {}
    close_input(run)
    reply({'id': run.id, 'exit': run.status})
    del runs_by_id[run.id]


def reap(now):
    while runs_by_pid:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        run = runs_by_pid.pop(pid, None)
        if run is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        run.status = code if code >= 0 else 128 - code
        run.drain_until = now + DRAIN_SECONDS
        finish_if_done(run, now)


def end_all(signum=signal.SIGTERM):
    for pid in list(runs_by_pid):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def on_term(signum, frame):
    end_all()
    os._exit(128 + signum)


def main():
    import time
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C reaches the whole process group: the programs get it as they would have, and the
    # server stays to report how they ended.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for fd in (0, 1):  # the programs' fds 0 and 1 are their own pipes; the protocol has its copies
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, fd)
        os.close(null)
    pending = b''
    open_requests = True
    while open_requests or runs_by_id:
        now = time.monotonic()
        readers = [wake_r] + ([REQUESTS] if open_requests else [])
        writers = []
        timeout = None
        for run in runs_by_id.values():
            readers.extend(run.readers)
            if run.in_w is not None:
                writers.append(run.in_w)
            if run.drain_until is not None:
                left = max(0.0, run.drain_until - now)
                timeout = left if timeout is None else min(timeout, left)
        if PRELOAD and not runs_by_id:
            timeout = 0
        ready_r, ready_w, _ = select.select(readers, writers, [], timeout)
        if PRELOAD and not runs_by_id and not ready_r:
            preload_one()
            continue
        now = time.monotonic()
        for run in list(runs_by_id.values()):
            if run.in_w in ready_w:
                try:
                    n = os.write(run.in_w, run.pending[:65536])
                    run.pending = run.pending[n:]
                    if not len(run.pending):
                        close_input(run)
                except BlockingIOError:
                    pass
                except OSError:  # the program closed its input (EPIPE): as a spawn would, drop it
                    close_input(run)
            for fd in [fd for fd in run.readers if fd in ready_r]:
                data = os.read(fd, 65536)
                if data:
                    reply({'id': run.id, 'fd': run.readers[fd],
                           'data': base64.b64encode(data).decode()})
                else:
                    os.close(fd)
                    del run.readers[fd]
        if wake_r in ready_r:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        reap(now)
        for run in list(runs_by_id.values()):
            finish_if_done(run, now)
        if REQUESTS in ready_r:
            data = os.read(REQUESTS, 1 << 20)
            if not data:
                open_requests = False
                end_all()  # sitecycle has gone: its programs go with it
                continue
            pending += data
            *lines, pending = pending.split(b'\n')
            for line in lines:
                if not line.strip():
                    continue
                req = json.loads(line)
                if req['op'] == 'run':
                    start(req)
                elif req['op'] == 'kill':
                    run = runs_by_id.get(req['id'])
                    if run is not None and run.status is None:
                        try:
                            os.kill(run.pid, req.get('signal', signal.SIGKILL))
                        except ProcessLookupError:
                            pass


main()
