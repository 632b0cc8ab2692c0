# host/store-dump.py: argv: raw dump dir, stored dump dir (made), base's stored dump
# dir or '', largest delta source in bytes. Moves each file of the raw dump into the stored one:
# `N.dat` compressed (a delta against the base's `N.dat.zst`, decompressed aside for the time of
# one file, when the base has one and both are within the window; else full), anything else as it
# is. Removes the raw dir. Prints {"deltas": [...], "full": n, "bytes": stored bytes}.
# Runs at a lower CPU priority (nice 10, zstd with it): storing is background work that must not
# slow what else runs on the host, the site's own requests first, and a sync's restore of the
# same dump (which runs beside it and which the sync waits for: bench/README.md "Round 13").
import json, os, re, shutil, sys
from _zstd import zstd  # inlined
os.nice(10)
raw, out, base, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.makedirs(out)
deltas, full = [], 0
for name in sorted(os.listdir(raw)):
    src = os.path.join(raw, name)
    if not re.fullmatch(r'[0-9]+\.dat', name):
        os.rename(src, os.path.join(out, name))
        continue
    stored = os.path.join(out, name + '.zst')
    based = os.path.join(base, name + '.zst') if base else ''
    if based and os.path.isfile(based) and os.path.getsize(src) <= limit:
        aside = os.path.join(out, '.' + name + '.base')
        zstd(['-d', based, '-o', aside])
        if os.path.getsize(aside) <= limit:
            zstd(['-1', '--patch-from=' + aside, src, '-o', stored])
            deltas.append(name + '.zst')
        else:
            zstd(['-1', src, '-o', stored])
            full += 1
        os.unlink(aside)
    else:
        zstd(['-1', src, '-o', stored])
        full += 1
    os.unlink(src)
shutil.rmtree(raw)
stored_bytes = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
print(json.dumps({'deltas': deltas, 'full': full, 'bytes': stored_bytes}))
