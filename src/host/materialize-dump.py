# host/materialize-dump.py: argv: stored dump dir, base's stored dump dir or '', JSON of the
# delta files: {delta: the base's file it was made against} (a list: each against the base's file
# of the same name), output dir (made). Writes the plain dump: `N.dat.zst` decompressed (a delta
# through its base file, decompressed aside first), other files copied. Prints {"bytes": the
# bytes written}.
import json, os, re, shutil, sys
from _zstd import zstd  # inlined
stored, base, listed, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
deltas = listed if isinstance(listed, dict) else {name: name for name in listed}
for against in deltas.values():
    if not re.fullmatch(r'[0-9]+\.dat\.zst', against):
        sys.stderr.write('%r is not the name of a table file of the base\n' % against)
        sys.exit(5)
os.makedirs(out)
total = 0
for name in sorted(os.listdir(stored)):
    src = os.path.join(stored, name)
    if name.endswith('.dat.zst'):
        target = os.path.join(out, name[:-4])
        if name in deltas:
            if not base:
                sys.stderr.write('%s is a delta but its base is missing\n' % src)
                sys.exit(5)
            aside = os.path.join(out, '.' + name[:-4] + '.base')
            zstd(['-d', os.path.join(base, deltas[name]), '-o', aside])
            zstd(['-d', '--patch-from=' + aside, src, '-o', target])
            os.unlink(aside)
        else:
            zstd(['-d', src, '-o', target])
    else:
        target = os.path.join(out, name)
        shutil.copyfile(src, target)
    total += os.path.getsize(target)
print(json.dumps({'bytes': total}))
