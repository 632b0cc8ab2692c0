# host/materialize-dump.py: argv: stored dump dir, base's stored dump dir or '', JSON
# list of the delta files, output dir (made). Writes the plain dump: `N.dat.zst` decompressed (a
# delta through the base's file, decompressed aside first), other files copied. Prints
# {"bytes": the bytes written}.
import json, os, shutil, sys
from _zstd import zstd  # inlined
stored, base, deltas, out = sys.argv[1], sys.argv[2], set(json.loads(sys.argv[3])), sys.argv[4]
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
            zstd(['-d', os.path.join(base, name), '-o', aside])
            zstd(['-d', '--patch-from=' + aside, src, '-o', target])
            os.unlink(aside)
        else:
            zstd(['-d', src, '-o', target])
    else:
        target = os.path.join(out, name)
        shutil.copyfile(src, target)
    total += os.path.getsize(target)
print(json.dumps({'bytes': total}))
