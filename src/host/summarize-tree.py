# host/summarize-tree.py: argv: mode (`list` or `content`), path. Prints JSON
# `{exists, count, bytes, sha256}` for a file or a tree. `list`: sha256 of the sorted lines `path
# NUL size NUL mtime` (what rsync compares; cheap); `content`: sha256 over each file's path and
# bytes (for a dump). Symbolic links count as entries with their target; nothing is followed.
import hashlib, json, os, stat, sys
mode, top = sys.argv[1], sys.argv[2]
if not os.path.lexists(top):
    print(json.dumps({'exists': False, 'count': 0, 'bytes': 0, 'sha256': hashlib.sha256().hexdigest()}))
    sys.exit(0)
entries = []
if os.path.isdir(top) and not os.path.islink(top):
    for d, dirs, files in os.walk(top):
        dirs.sort()
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            entries.append(os.path.relpath(os.path.join(d, name), top))
else:
    entries.append('')
entries.sort()
total, count, h = 0, 0, hashlib.sha256()
for rel in entries:
    p = os.path.join(top, rel) if rel else top
    st = os.lstat(p)
    count += 1
    if stat.S_ISLNK(st.st_mode):
        h.update(('%s\0link\0%s\n' % (rel, os.readlink(p))).encode('utf-8', 'surrogateescape'))
        continue
    total += st.st_size
    if mode == 'list':
        h.update(('%s\0%d\0%d\n' % (rel, st.st_size, int(st.st_mtime))).encode('utf-8', 'surrogateescape'))
    else:
        h.update(('%s\0%d\n' % (rel, st.st_size)).encode('utf-8', 'surrogateescape'))
        with open(p, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                h.update(block)
print(json.dumps({'exists': True, 'count': count, 'bytes': total, 'sha256': h.hexdigest()}))
