# host/redirect-stdio.py: argv: mode (`in` or `out`), file, extra, then the command's argv. `out`: the
# command's stdout goes to the file (gzipped when extra is `1`); `in`: the file (gunzipped when it
# is gzip), followed by the text `extra`, is the command's stdin. Exits with the command's code; a
# failed `out` removes the file. SIGTERM ends the command with it (_children.py).
import gzip, os, shutil, subprocess, sys
from _children import start  # inlined
mode, path, extra, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
gz = extra == '1'
if mode == 'out':
    with open(path, 'wb') as f:
        if gz:
            p = start(argv, stdout=subprocess.PIPE)
            with gzip.GzipFile(fileobj=f, mode='wb', compresslevel=6) as z:
                shutil.copyfileobj(p.stdout, z, 1 << 20)
        else:
            p = start(argv, stdout=f)
        code = p.wait()
        f.flush()
        os.fsync(f.fileno())
    if code != 0:
        os.unlink(path)
    sys.exit(code)
# unbuffered: the child reads the file from the descriptor, whose offset must really be 0
with open(path, 'rb', buffering=0) as f:
    magic = f.read(2)
    f.seek(0)
    if magic == b'\x1f\x8b' or extra:
        p = start(argv, stdin=subprocess.PIPE)
        try:
            if magic == b'\x1f\x8b':
                with gzip.GzipFile(fileobj=f, mode='rb') as z:
                    shutil.copyfileobj(z, p.stdin, 1 << 20)
            else:
                shutil.copyfileobj(f, p.stdin, 1 << 20)
            p.stdin.write(extra.encode('utf-8'))
        except BrokenPipeError:
            pass
        except (OSError, EOFError) as e:
            p.kill()
            sys.stderr.write('%s: %s\n' % (path, e))
            p.wait()
            sys.exit(1)
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
    else:
        p = start(argv, stdin=f)
    sys.exit(p.wait())
