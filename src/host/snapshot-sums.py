# host/snapshot-sums.py: argv: mode, progress file (or `-`), then by mode:
# - `write <dir> <previous dir|-> <sha256 of the previous SHA256SUMS|-> [<known json>]`: hash every
#   file of the snapshot `dir` and write `dir/SHA256SUMS` (aside, fsync, rename). A file that is the
#   very inode the previous snapshot holds at the same path (rsync --link-dest made it a hard link)
#   takes the previous snapshot's sum instead of being read again, but only when the previous
#   SHA256SUMS still has the sha256 its manifest records. `known` is `[[path, sha256,
#   'dev:inode:size:mtime_ns:ctime_ns']...]`: files the program that wrote them hashed as it wrote them (the
#   SQLite copy); such a file takes that sum while its lstat still has that identity, else it is
#   read. Before SHA256SUMS is written, the files read here (written for this snapshot by programs
#   that do not sync them: zstd, rsync) are made durable: each fsynced, then their folders, or,
#   past SYNC_EACH_MAX files, one syncfs(2) of the snapshot's file system instead (a disk flush
#   a file would cost more; syncfs also flushes whatever else is dirty there, such as a sync's
#   scratch database, so it is not the default). SHA256SUMS itself is fsynced, renamed and its
#   folder fsynced: a snapshot whose manifest is written after this survives a power loss.
#   Prints JSON `{sha256, count, bytes, hashed,
#   hashedBytes, reused, reusedBytes, files: [[path, size, sha256]...]}`.
# - `hash <json>`: json is `[{dir, only: [paths] | null, sums: bool}]`. Hashes the files of each
#   snapshot directory (only those at or under `only`, when given), reading each inode once across
#   all of them (a hard-linked file has the same bytes wherever it is linked); with `sums`, also
#   reads and parses its SHA256SUMS. Prints JSON `[{dir, files: [[path, size, sha256]...],
#   missing: [paths of only not found], sums: null | {exists, sha256, entries: [[path,
#   sha256]...], badLines: [numbers]}}]` and `bytesRead`.
# Progress: `{"doneBytes", "totalBytes", "doneFiles", "totalFiles"}` written aside and renamed over
# the progress file about twice a second; removed at the end. Errors writing it are ignored.
import hashlib, json, os, re, stat, sys, time
from _durable import commit, fsync_path  # inlined

SKIP = {'manifest.json', 'manifest.json.tmp', 'SHA256SUMS', 'SHA256SUMS.tmp'}
# Up to this many files read for a snapshot are fsynced one by one; more, and the file system is.
SYNC_EACH_MAX = 256


def enc(rel):
    return rel.encode('utf-8', 'surrogateescape')


def dec(raw):
    return raw.decode('utf-8', 'surrogateescape')


def sums_line(digest, rel):
    name = enc(rel)
    if b'\\' in name or b'\n' in name or b'\r' in name:
        name = name.replace(b'\\', b'\\\\').replace(b'\n', b'\\n').replace(b'\r', b'\\r')
        return b'\\' + digest.encode() + b'  ' + name + b'\n'
    return digest.encode() + b'  ' + name + b'\n'


LINE = re.compile(rb'^([0-9a-fA-F]{64}) [ *](.+)$', re.S)
UNESCAPE = {b'\\': b'\\', b'n': b'\n', b'r': b'\r'}


def parse_sums(data):
    entries, bad = [], []
    lines = data.split(b'\n')
    if lines and lines[-1] == b'':
        lines.pop()
    for number, line in enumerate(lines, 1):
        escaped = line.startswith(b'\\')
        m = LINE.match(line[1:] if escaped else line)
        if not m:
            bad.append(number)
            continue
        name = m.group(2)
        if escaped:
            out, i, ok = bytearray(), 0, True
            while i < len(name):
                c = name[i:i + 1]
                if c == b'\\':
                    nxt = UNESCAPE.get(name[i + 1:i + 2])
                    if nxt is None:
                        ok = False
                        break
                    out += nxt
                    i += 2
                else:
                    out += c
                    i += 1
            if not ok:
                bad.append(number)
                continue
            name = bytes(out)
        entries.append([dec(name), m.group(1).decode().lower()])
    return entries, bad


def walk(top, only=None):
    """Regular files under the snapshot directory top, as sorted (rel, path, lstat)."""
    starts = only if only is not None else ['']
    found, missing = [], []
    for start in starts:
        base = os.path.join(top, start) if start else top
        try:
            st = os.lstat(base)
        except FileNotFoundError:
            missing.append(start)
            continue
        if stat.S_ISREG(st.st_mode):
            found.append((start, base, st))
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        for d, dirs, files in os.walk(base):
            dirs.sort()
            for name in files:
                p = os.path.join(d, name)
                rel = os.path.relpath(p, top)
                if d == top and name in SKIP:
                    continue
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode):
                    found.append((rel, p, st))
    found.sort(key=lambda f: enc(f[0]))
    return found, missing


class Progress:
    def __init__(self, path, total_bytes, total_files):
        self.path, self.last = (None if path == '-' else path), 0.0
        self.state = {'doneBytes': 0, 'totalBytes': total_bytes, 'doneFiles': 0, 'totalFiles': total_files}

    def add(self, nbytes=0, nfiles=0):
        self.state['doneBytes'] += nbytes
        self.state['doneFiles'] += nfiles
        now = time.monotonic()
        if self.path and now - self.last >= 0.5:
            self.last = now
            try:
                with open(self.path + '.tmp', 'w') as f:
                    json.dump(self.state, f)
                os.replace(self.path + '.tmp', self.path)
            except OSError:
                pass

    def done(self):
        if self.path:
            for p in (self.path, self.path + '.tmp'):
                try:
                    os.unlink(p)
                except OSError:
                    pass


def sha256_of(path, progress):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
            progress.add(len(block))
    return h.hexdigest()


def sync_filesystem(path):
    """syncfs(2) of the file system holding `path` (Linux), else sync(2) of all of them."""
    import ctypes
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.syncfs(fd) == 0:
                return
        except (AttributeError, OSError):
            pass
        os.sync()
    finally:
        os.close(fd)


def make_durable(top, paths):
    """The files `paths` (under `top`) and their folders on disk: see the header."""
    if len(paths) > SYNC_EACH_MAX:
        sync_filesystem(top)
        return
    for path in paths:
        fsync_path(path)
    for folder in sorted({os.path.dirname(path) for path in paths}):
        fsync_path(folder)


def identity(st):
    return '%d:%d:%d:%d:%d' % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def write(progress_path, top, prev, prev_sha, known_json='-'):
    files, _ = walk(top)
    known = {} if known_json == '-' else {rel: (digest, ident) for rel, digest, ident in json.loads(known_json)}
    reuse = {}
    if prev != '-':
        try:
            with open(os.path.join(prev, 'SHA256SUMS'), 'rb') as f:
                data = f.read()
            if hashlib.sha256(data).hexdigest() == prev_sha:
                reuse = dict(parse_sums(data)[0])
        except OSError:
            pass
    progress = Progress(progress_path, sum(st.st_size for _, _, st in files), len(files))
    out, lines = [], []
    counts = {'hashed': 0, 'hashedBytes': 0, 'reused': 0, 'reusedBytes': 0}
    read_here = []
    for rel, path, st in files:
        # A known sum was read once already, by the program that wrote the file: counted as hashed.
        digest, kind = None, 'hashed'
        if rel in known and known[rel][1] == identity(st):
            digest = known[rel][0]
        elif rel in reuse:
            try:
                pst = os.lstat(os.path.join(prev, rel))
                if (pst.st_dev, pst.st_ino) == (st.st_dev, st.st_ino):
                    digest, kind = reuse[rel], 'reused'
            except OSError:
                pass
        if digest is None:
            digest = sha256_of(path, progress)
            read_here.append(path)
        else:
            progress.add(st.st_size)
        counts[kind] += 1
        counts[kind + 'Bytes'] += st.st_size
        progress.add(0, 1)
        lines.append(sums_line(digest, rel))
        out.append([rel, st.st_size, digest])
    data = b''.join(lines)
    make_durable(top, read_here)
    commit(os.path.join(top, 'SHA256SUMS'), data)
    progress.done()
    result = {'sha256': hashlib.sha256(data).hexdigest(), 'count': len(out),
              'bytes': sum(f[1] for f in out), 'files': out}
    result.update(counts)
    print(json.dumps(result))


def hash_dirs(progress_path, request):
    walked = [(r, walk(r['dir'], r.get('only'))) for r in request]
    seen, total, nfiles = set(), 0, 0
    for _, (files, _) in walked:
        for _, _, st in files:
            nfiles += 1
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    progress = Progress(progress_path, total, nfiles)
    cache, out, read = {}, [], 0
    for r, (files, missing) in walked:
        entries = []
        for rel, path, st in files:
            key = (st.st_dev, st.st_ino)
            if key not in cache:
                cache[key] = sha256_of(path, progress)
                read += st.st_size
            progress.add(0, 1)
            entries.append([rel, st.st_size, cache[key]])
        sums = None
        if r.get('sums'):
            try:
                with open(os.path.join(r['dir'], 'SHA256SUMS'), 'rb') as f:
                    data = f.read()
                parsed, bad = parse_sums(data)
                sums = {'exists': True, 'sha256': hashlib.sha256(data).hexdigest(), 'entries': parsed, 'badLines': bad}
            except FileNotFoundError:
                sums = {'exists': False, 'sha256': '', 'entries': [], 'badLines': []}
        out.append({'dir': r['dir'], 'files': entries, 'missing': missing, 'sums': sums})
    progress.done()
    print(json.dumps({'dirs': out, 'bytesRead': read}))


mode, progress_path = sys.argv[1], sys.argv[2]
if mode == 'write':
    write(progress_path, *sys.argv[3:7])
elif mode == 'hash':
    hash_dirs(progress_path, json.loads(sys.argv[3]))
else:
    sys.exit('unknown mode %s' % mode)
