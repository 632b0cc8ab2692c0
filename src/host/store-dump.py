# host/store-dump.py: argv: raw dump dir, stored dump dir (made), base's stored dump
# dir or '', largest delta source in bytes. Moves each file of the raw dump into the stored one:
# `N.dat` compressed (a delta against the base's file of the same table, decompressed aside for
# the time of one file, when the base has one, both are within the window and the host has 4
# times the larger one's size available (MemAvailable); else full),
# anything else as it is. Removes the raw dir. The same table is found by the entries of both
# dumps' toc.dat (`pg_restore -l`: a TABLE DATA entry's type, schema, name and owner), not by
# file name: `N` is pg_dump's dump id, which a restore (tables made again in another order) or
# any new object before the tables (a migration's function, type ...) changes; when either toc
# cannot be listed, the file of the same name is taken (a delta against another table's file is
# only larger, never wrong: the manifest names the file each delta was made against). Prints
# {"deltas": [...], "bases": {delta: the base's file, where its name differs}, "full": n,
# "bytes": stored bytes}.
# Runs at a lower CPU priority (nice 10, zstd with it): storing is background work that must not
# slow what else runs on the host, the site's own requests first, and a sync's restore of the
# same dump (which runs beside it and which the sync waits for: bench/README.md "Round 13").
import json, os, re, shutil, subprocess, sys
# start: _children.py's (SIGTERM ends the child with the program), as zstd's
from _zstd import start, zstd  # inlined
os.nice(10)
raw, out, base, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def table_files(dump_dir):
    """{entry: 'N.dat'} of the TABLE DATA entries in a directory dump's toc.dat, the entry being
    its `pg_restore -l` line without the dump id and OIDs; None when it cannot be listed."""
    try:
        p = start(['pg_restore', '-l', dump_dir], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:
        return None
    listed, _ = p.communicate()
    if p.returncode != 0:
        return None
    files = {}
    for line in listed.decode('utf-8', 'surrogateescape').split('\n'):
        m = re.fullmatch(r'([0-9]+); [0-9]+ [0-9]+ (TABLE DATA .*)', line)
        if m:
            files[m.group(2)] = m.group(1) + '.dat'
    return files


def base_files():
    """{raw file: the base's file of the same table}; None: take the file of the same name."""
    if not base:
        return {}
    new, old = table_files(raw), table_files(base)
    if new is None or old is None:
        return None
    return {name: old[entry] for entry, name in new.items() if entry in old}


def available():
    """MemAvailable of the host in bytes, None when /proc/meminfo does not say."""
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def fits(*paths):
    """Whether the host has 4 times the largest file available: zstd --patch-from holds about 3
    times the file to make a delta (dump-store.ts DELTA_MEMORY_FACTOR)."""
    free = available()
    return free is None or 4 * max(os.path.getsize(p) for p in paths) <= free


os.makedirs(out)
base_of = base_files()
deltas, bases, full = [], {}, 0
for name in sorted(os.listdir(raw)):
    src = os.path.join(raw, name)
    if not re.fullmatch(r'[0-9]+\.dat', name):
        os.rename(src, os.path.join(out, name))
        continue
    stored = os.path.join(out, name + '.zst')
    against = name if base_of is None else base_of.get(name)
    based = os.path.join(base, against + '.zst') if base and against else ''
    if based and os.path.isfile(based) and os.path.getsize(src) <= limit and fits(src):
        aside = os.path.join(out, '.' + name + '.base')
        zstd(['-d', based, '-o', aside])
        if os.path.getsize(aside) <= limit and fits(src, aside):
            zstd(['-1', '--patch-from=' + aside, src, '-o', stored])
            deltas.append(name + '.zst')
            if against != name:
                bases[name + '.zst'] = against + '.zst'
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
print(json.dumps({'deltas': deltas, 'bases': bases, 'full': full, 'bytes': stored_bytes}))
