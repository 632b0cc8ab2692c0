# host/_zstd.py: zstd as the store programs run it: found on PATH, named when missing (exit 4);
# `zstd(args)` exits 3 with zstd's message when it fails. Inlined in store-dump.py and
# materialize-dump.py.
# SIGTERM ends zstd with the program (_children.py).
import shutil, subprocess, sys
from _children import start  # inlined
def zstd(args):
    p = start(['zstd', '-q', '-f', '--long=31'] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = p.communicate()
    if p.returncode != 0:
        # Its last message alone (a progress line it cleared with a carriage return is not one),
        # without the file name it begins with: zstd cuts a long one to its end ("se.dump/1.dat.zst
        # : Decoding error"); the whole command line says which file.
        lines = [line.strip() for line in err.replace('\r', '\n').split('\n') if line.strip()]
        why = lines[-1].split(' : ', 1)[-1] if lines else 'exit code %d' % p.returncode
        sys.stderr.write('zstd %s failed: %s\n' % (' '.join(args), why))
        sys.exit(3)
if shutil.which('zstd') is None:
    sys.stderr.write('zstd is not installed\n')
    sys.exit(4)
